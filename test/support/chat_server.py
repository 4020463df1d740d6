"""A local OpenAI-compatible chat-completions server (127.0.0.1, in a thread) with a script of answers.

It answers ``stream: true`` requests as server-sent events (one chunk per word, then the finish
reason and ``data: [DONE]``) and the others as one JSON document, as vLLM and ``transformers serve`` do."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    """Speaks POST /v1/chat/completions. ``script``: what to do for the next requests, in order
    ('ok', 'slow' (0.6 s, or ``slow_s``), '500', 'malformed', '400', '404', 'cut' (the body ends
    before its Content-Length / the stream before its end), 'length' (finish_reason "length")); 'ok'
    once the script is used up. ``finished`` counts the answers written to the end, ``aborted``
    the slow answers whose client had gone."""

    def __init__(self):
        self.requests, self.script, self.lock = [], [], threading.Lock()
        self.answer_fn = None  # (question text, image count) -> answer text
        # body -> the reply's assistant message ({'content': ..., 'tool_calls': [...]}); for tool calling
        self.message_fn = None
        self.slow_s = 0.6
        self.finished = self.aborted = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                with server.lock:
                    server.requests.append((self.path, dict(self.headers), body))
                    action = server.script.pop(0) if server.script else 'ok'
                stream = bool(body.get('stream'))
                if action == '500':
                    return self._send(500, b'{"error": "overloaded"}')
                if action == '400':
                    return self._send(400, b'{"error": "unknown model"}')
                if action == '404':
                    return self._send(404, b'{"detail": "Not Found"}')
                if action == 'malformed':
                    return self._send(200, b'{"choices": [')
                if server.message_fn is not None:
                    if action == 'slow':
                        time.sleep(server.slow_s)
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
                finish = 'length' if action == 'length' else 'stop'
                if action == 'length':
                    answer = answer[:12]
                if stream:
                    return self._stream(answer, finish, action)
                if action == 'slow':
                    time.sleep(server.slow_s)
                doc = {'id': 'x', 'object': 'chat.completion',
                       'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': answer},
                                    'finish_reason': finish}]}
                data = json.dumps(doc).encode()
                if action == 'cut':
                    return self._send(200, data, cut=True)
                self._send(200, data)

            def _stream(self, answer, finish, action):
                try:
                    self.send_response(200)
                    self.send_header('Content-Type', 'text/event-stream')
                    self.send_header('Transfer-Encoding', 'chunked')
                    self.end_headers()
                    words = answer.split(' ')
                    for i, w in enumerate(words):
                        if action == 'slow':  # generation takes slow_s; it stops when the client goes
                            time.sleep(server.slow_s / len(words))
                        if action == 'cut' and i == len(words) // 2:
                            self.wfile.write(b'20\r\ndata: {"choices": [{"del')  # a chunk cut mid-way
                            self.wfile.flush()
                            self.close_connection = True
                            return
                        delta = {'content': w if i == 0 else ' ' + w}
                        self._event({'choices': [{'index': 0, 'delta': delta, 'finish_reason': None}]})
                    self._event({'choices': [{'index': 0, 'delta': {}, 'finish_reason': finish}]})
                    self._chunk(b'data: [DONE]\n\n')
                    self._chunk(b'')
                    with server.lock:
                        server.finished += 1
                except (BrokenPipeError, ConnectionResetError):
                    with server.lock:
                        server.aborted += 1
                    self.close_connection = True

            def _event(self, doc):
                self._chunk(b'data: ' + json.dumps(doc).encode() + b'\n\n')

            def _chunk(self, data):
                self.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
                self.wfile.flush()

            def _send(self, code, data, cut=False):
                try:
                    self.send_response(code)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:len(data) // 2] if cut else data)
                    self.wfile.flush()
                    if cut:
                        self.close_connection = True
                    elif code == 200:
                        with server.lock:
                            server.finished += 1
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
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
