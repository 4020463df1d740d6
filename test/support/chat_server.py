"""A local OpenAI-compatible chat-completions server (127.0.0.1, in a thread) with a script of answers."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    """Speaks POST /v1/chat/completions. ``script``: what to do for the next requests, in order
    ('ok', 'slow', '500', 'malformed', '400'); 'ok' once the script is used up."""

    def __init__(self):
        self.requests, self.script, self.lock = [], [], threading.Lock()
        self.answer_fn = None  # (question text, image count) -> answer text
        # body -> the reply's assistant message ({'content': ..., 'tool_calls': [...]}); for tool calling
        self.message_fn = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                with server.lock:
                    server.requests.append((self.path, dict(self.headers), body))
                    action = server.script.pop(0) if server.script else 'ok'
                if action == 'slow':
                    time.sleep(0.6)
                if action == '500':
                    return self._send(500, b'{"error": "overloaded"}')
                if action == '400':
                    return self._send(400, b'{"error": "unknown model"}')
                if action == 'malformed':
                    return self._send(200, b'{"choices": [')
                if server.message_fn is not None:
                    message = {'role': 'assistant', 'content': None, **server.message_fn(body)}
                    doc = {'id': 'x', 'object': 'chat.completion',
                           'choices': [{'index': 0, 'message': message,
                                        'finish_reason': 'tool_calls' if message.get('tool_calls') else 'stop'}]}
                    return self._send(200, json.dumps(doc).encode())
                text = [p['text'] for p in body['messages'][-1]['content'] if p['type'] == 'text'][0]
                n_img = sum(p['type'] == 'image_url' for p in body['messages'][-1]['content'])
                answer = f'{n_img} image(s); about 42 cm for: {text}'
                if server.answer_fn is not None:
                    answer = server.answer_fn(text, n_img)
                doc = {'id': 'x', 'object': 'chat.completion',
                       'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': answer},
                                    'finish_reason': 'stop'}]}
                self._send(200, json.dumps(doc).encode())

            def _send(self, code, data):
                try:
                    self.send_response(code)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/v1'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def tool_call(call_id: str, name: str, **arguments) -> dict:
    """One entry of an assistant message's ``tool_calls`` (arguments as the JSON text servers send)."""
    return {'id': call_id, 'type': 'function', 'function': {'name': name, 'arguments': json.dumps(arguments)}}


def tool_script(*steps):
    """A ``message_fn`` replying with ``steps`` in turn: each a list of tool calls, a str (the final
    answer), or a callable (the JSON results of the tool messages so far) -> the final answer; the
    last step repeats."""
    state = {'i': 0}

    def reply(body):
        step = steps[min(state['i'], len(steps) - 1)]
        state['i'] += 1
        if isinstance(step, str):
            return {'content': step}
        if callable(step):
            return {'content': step([json.loads(m['content']) for m in body['messages'] if m.get('role') == 'tool'])}
        return {'content': None, 'tool_calls': step}

    return reply
