"""Tiny random-weight Qwen2.5-VL and LLaVA checkpoints built from configs, with a character
tokenizer and an image processor built here: the real generate path in milliseconds.

Used by the VLM tests and bench/vlm.py. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

CHARS = [chr(i) for i in range(32, 127)] + ['\n']


def _tokenizer(special: list[str], **kw):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(special + CHARS)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token=special[0]))
    tk.pre_tokenizer = pre_tokenizers.Split(pattern='', behavior='isolated')
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, **kw), vocab


QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAVA_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}USER: {% for c in m['content'] %}{% if c['type'] == 'image' %}"
    "<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% else %}ASSISTANT: {% for c in m['content'] %}"
    "{{ c['text'] }}{% endfor %}</s>{% endif %}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def qwen_processor():
    """A Qwen2.5-VL processor without the video processor (that one needs torchvision, which
    the CPU test environment does not have); images go through the real PIL image processor."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessorPil
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyQwenProcessor(Qwen2_5_VLProcessor):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)
            self.image_token, self.video_token = '<|image_pad|>', '<|video_pad|>'
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)

    special = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|vision_start|>', '<|vision_end|>', '<|image_pad|>',
               '<|video_pad|>']
    tok, vocab = _tokenizer(special, eos_token='<|im_end|>', pad_token='<|endoftext|>',
                            additional_special_tokens=special[1:])
    ip = Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    return ImageOnlyQwenProcessor(image_processor=ip, tokenizer=tok, chat_template=QWEN_TEMPLATE), vocab


def build_qwen(out: Path, seed: int = 0):
    """Save a tiny random Qwen2.5-VL to ``out``; returns its processor (pass it to the backend)."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    proc, vocab = qwen_processor()
    eos = vocab['<|im_end|>']
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         rope_scaling={'type': 'mrope', 'mrope_section': [4, 2, 2]}, eos_token_id=eos, pad_token_id=0,
                         bos_token_id=0),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, fullatt_block_indexes=[0],
                           window_size=56),
        image_token_id=vocab['<|image_pad|>'], video_token_id=vocab['<|video_pad|>'],
        vision_start_token_id=vocab['<|vision_start|>'], vision_end_token_id=vocab['<|vision_end|>'],
        bos_token_id=0, eos_token_id=eos, pad_token_id=0,
    )
    torch.manual_seed(seed)
    Qwen2_5_VLForConditionalGeneration(cfg).save_pretrained(out)
    proc.save_pretrained(out)
    return proc


def build_llava(out: Path, seed: int = 0, hidden_size: int = 32, layers: int = 1, max_positions: int = 512) -> None:
    """Save a tiny random LLaVA-1.5-style model and its processor to ``out`` (loads with AutoProcessor);
    a larger ``hidden_size``/``layers``/``max_positions`` makes long answers take seconds (a busy server)."""
    import torch
    from transformers import CLIPImageProcessorPil, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tok, vocab = _tokenizer(['<pad>', '<s>', '</s>', '<image>'], bos_token='<s>', eos_token='</s>', pad_token='<pad>',
                            extra_special_tokens={'image_token': '<image>'})
    ip = CLIPImageProcessorPil(size={'shortest_edge': 28}, crop_size={'height': 28, 'width': 28})
    proc = LlavaProcessor(image_processor=ip, tokenizer=tok, chat_template=LLAVA_TEMPLATE, patch_size=14,
                          vision_feature_select_strategy='default', num_additional_image_tokens=1)
    cfg = LlavaConfig(
        vision_config=dict(model_type='clip_vision_model', hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=28, patch_size=14, projection_dim=hidden_size),
        text_config=dict(model_type='llama', vocab_size=len(vocab), hidden_size=hidden_size,
                         intermediate_size=2 * hidden_size, num_hidden_layers=layers, num_attention_heads=2,
                         num_key_value_heads=1, max_position_embeddings=max_positions,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0),
        image_token_id=vocab['<image>'], vision_feature_layer=-1, vision_feature_select_strategy='default',
    )
    torch.manual_seed(seed)
    LlavaForConditionalGeneration(cfg).save_pretrained(out)
    proc.save_pretrained(out)
