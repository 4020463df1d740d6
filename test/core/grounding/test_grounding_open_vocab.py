"""Open-vocabulary grounders (OWLv2, Grounding DINO, SAM) on tiny random-weight models.

The models, tokenizers and image processors are built here from configs and vocabularies
written into a temporary directory, saved with save_pretrained() and loaded back through the
grounders' own loading path (the model id is that directory). Random weights say nothing
about quality; these tests check that the whole path runs, that thresholds are honoured and
that every mask has the frame's shape.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from spatialvlm_ros.core.errors import GroundingError
from spatialvlm_ros.core.grounding import (
    GROUNDERS,
    GroundingDinoGrounder,
    GroundingDinoGrounderConfig,
    ObjectQuery,
    Owlv2Grounder,
    Owlv2GrounderConfig,
    make_grounder,
)
from spatialvlm_ros.core.types import Frame, Intrinsics

torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')

H, W = 48, 80
WORDS = ['the', 'blue', 'bowl', 'red', 'mug', 'a', 'yellow', 'gripper', 'block']
QUERIES = [ObjectQuery('bowl', 'the blue bowl'), ObjectQuery('mug', 'red mug'), ObjectQuery('gripper', 'yellow gripper')]
CPU = {'model_device': 'cpu', 'model_dtype': 'float32', 'min_pixels': 1}
# the grounders that load a model, as the registry says
OPEN_VOCAB_KINDS = sorted(k for k, c in GROUNDERS.items() if c.loads_model)


def frame() -> Frame:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    rgb[10:30, 20:50] = (30, 40, 200)
    return Frame(rgb=rgb, depth=np.full((H, W), 0.8, np.float32),
                 intrinsics=Intrinsics(fx=60.0, fy=60.0, cx=39.5, cy=23.5, width=W, height=H))


def _owlv2(root):
    """Tiny OWLv2 with a CLIP BPE tokenizer (word-level vocab, no merges) and a 64 px image processor."""
    from transformers.models.owlv2 import Owlv2ImageProcessorPil

    vocab = {'<|startoftext|>': 0, '<|endoftext|>': 1}
    for w in WORDS:
        vocab[w + '</w>'] = len(vocab)
    (root / 'vocab.json').write_text(json.dumps(vocab))
    (root / 'merges.txt').write_text('#version: 0.2\n')
    tok = transformers.CLIPTokenizer(str(root / 'vocab.json'), str(root / 'merges.txt'), model_max_length=16)
    text = dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
                max_position_embeddings=16, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2, image_size=64,
                  patch_size=16)
    torch.manual_seed(0)
    model = transformers.Owlv2ForObjectDetection(
        transformers.Owlv2Config(text_config=text, vision_config=vision, projection_dim=32)
    )
    # a zero box head leaves the model's grid prior: one patch-sized box per image patch, as a trained
    # model starts from (random weights would give degenerate, zero-area boxes)
    with torch.no_grad():
        model.box_head.dense2.weight.zero_()
        model.box_head.dense2.bias.zero_()
    out = root / 'owlv2'
    model.save_pretrained(out)
    transformers.Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={'height': 64, 'width': 64}),
                                tokenizer=tok).save_pretrained(out)
    return str(out)


def _sam(root):
    from transformers.models.sam import SamImageProcessorPil

    torch.manual_seed(0)
    config = transformers.SamConfig(
        vision_config=dict(hidden_size=32, output_channels=16, num_hidden_layers=1, num_attention_heads=2,
                           image_size=64, patch_size=8, window_size=4, global_attn_indexes=[0], mlp_dim=37,
                           num_pos_feats=8),
        prompt_encoder_config=dict(hidden_size=16, image_size=64, patch_size=8, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=16, mlp_dim=32, num_hidden_layers=1, num_attention_heads=2,
                                 iou_head_hidden_dim=16),
    )
    out = root / 'sam'
    transformers.SamModel(config).save_pretrained(out)
    transformers.SamProcessor(image_processor=SamImageProcessorPil(
        size={'longest_edge': 64}, pad_size={'height': 64, 'width': 64},
        mask_size={'longest_edge': 16}, mask_pad_size={'height': 16, 'width': 16},
    )).save_pretrained(out)
    return str(out)


def _sam2(root):
    """Tiny SAM 2 (Hiera backbone, 64 px input) with a preprocessor_config.json of its own statistics."""
    torch.manual_seed(0)
    size = 64
    backbone = dict(model_type='sam2_hiera_det_model', hidden_size=8, num_attention_heads=1, image_size=[size, size],
                    blocks_per_stage=[1, 1, 2, 1], embed_dim_per_stage=[8, 16, 32, 64],
                    num_attention_heads_per_stage=[1, 1, 1, 1], window_size_per_stage=[4, 4, 4, 4],
                    global_attention_blocks=[3], window_positional_embedding_background_size=[2, 2])
    config = transformers.Sam2Config(
        vision_config=dict(backbone_config=backbone, backbone_channel_list=[64, 32, 16, 8],
                           backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
                           fpn_hidden_size=16),
        prompt_encoder_config=dict(hidden_size=16, image_size=size, patch_size=16),
        mask_decoder_config=dict(hidden_size=16, mlp_dim=32, num_attention_heads=2, iou_head_hidden_dim=16),
    )
    out = root / 'sam2'
    transformers.Sam2Model(config).save_pretrained(out)
    (out / 'preprocessor_config.json').write_text(json.dumps(
        {'image_processor_type': 'Sam2ImageProcessorFast', 'image_mean': [0.5, 0.4, 0.3], 'image_std': [0.2, 0.25, 0.3],
         'size': {'height': size, 'width': size}}))
    return str(out)


def _grounding_dino(root):
    """Tiny Grounding DINO: Swin backbone and BERT text encoder from transformers (no timm, no download)."""
    from transformers.models.grounding_dino import GroundingDinoImageProcessorPil

    (root / 'vocab.txt').write_text('\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', *WORDS]) + '\n')
    tok = transformers.BertTokenizer(str(root / 'vocab.txt'), model_max_length=32)
    config = transformers.GroundingDinoConfig(
        backbone_config=dict(model_type='swin', embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                             window_size=2, image_size=64, out_indices=[2, 3, 4]),
        text_config=dict(model_type='bert', vocab_size=len(WORDS) + 6, hidden_size=32, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=16, max_position_embeddings=64),
        d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=16, decoder_ffn_dim=16,
        encoder_attention_heads=2, decoder_attention_heads=2, num_queries=10, num_feature_levels=3,
        max_text_len=32, encoder_n_points=1, decoder_n_points=1,
    )
    torch.manual_seed(0)
    out = root / 'grounding_dino'
    transformers.AutoModelForZeroShotObjectDetection.from_config(config).save_pretrained(out)
    transformers.GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessorPil(size={'shortest_edge': 64, 'longest_edge': 96}), tokenizer=tok
    ).save_pretrained(out)
    return str(out)


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp('models')
    return {'owlv2': _owlv2(root), 'sam': _sam(root), 'sam2': _sam2(root), 'grounding_dino': _grounding_dino(root)}


def check_masks(out, queries=QUERIES):
    assert list(out) == [q.name for q in queries]
    for mask in out.values():
        assert mask is None or (mask.dtype == np.bool_ and mask.shape == (H, W))


@pytest.mark.parametrize('kind', OPEN_VOCAB_KINDS)
def test_thresholds_with_box_masks(models, kind):
    everything = make_grounder(kind, detector_model=models[kind], detection_threshold=-1.0, **CPU)
    out = everything.ground(frame(), QUERIES)
    check_masks(out)
    assert all(m is not None and m.any() for m in out.values())
    # the best box, filled: a mask is an axis-aligned rectangle
    for m in out.values():
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        assert m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()
    nothing = make_grounder(kind, detector_model=models[kind], detection_threshold=1.01, **CPU)
    assert nothing.ground(frame(), QUERIES) == {'bowl': None, 'mug': None, 'gripper': None}
    # more detections per query can only grow the mask
    more = make_grounder(kind, detector_model=models[kind], detection_threshold=-1.0, max_detections=3, **CPU).ground(frame(), QUERIES)
    assert all((more[n] | out[n] == more[n]).all() and more[n].sum() >= out[n].sum() for n in out)
    # min_pixels above the frame size: found boxes are still too small
    big = make_grounder(kind, detector_model=models[kind], detection_threshold=-1.0, **{**CPU, 'min_pixels': H * W + 1})
    assert big.ground(frame(), QUERIES[:1]) == {'bowl': None}


@pytest.mark.parametrize('kind', OPEN_VOCAB_KINDS)
def test_detector_with_sam_segmenter(models, kind):
    g = make_grounder(kind, detector_model=models[kind], segmenter_model=models['sam'], detection_threshold=-1.0, **CPU)
    assert g.segmenter is not None and g.device.type == 'cpu' and next(g.model.parameters()).dtype == torch.float32
    out = g.ground(frame(), QUERIES)
    check_masks(out)
    assert any(m is not None for m in out.values())
    assert g.ground(frame(), []) == {}
    none = make_grounder(kind, detector_model=models[kind], segmenter_model=models['sam'], detection_threshold=1.01, **CPU)
    assert none.ground(frame(), QUERIES[:2]) == {'bowl': None, 'mug': None}
    g.close()
    assert g.model is None and g.segmenter is None
    with pytest.raises(GroundingError, match=f'the {kind} grounder was closed'):
        g.ground(frame(), QUERIES)


def test_sam2_segmenter_turns_each_box_into_a_mask(models):
    """SAM 2 without torchvision: our preprocessing feeds the model, one frame-sized bool mask per box."""
    from spatialvlm_ros.core.grounding.segmenter import Sam2Segmenter

    g = make_grounder('owlv2', detector_model=models['owlv2'], segmenter_model=models['sam2'], detection_threshold=-1.0, **CPU)
    seg = g.segmenter
    assert isinstance(seg, Sam2Segmenter) and seg.size == 64
    # the checkpoint's own normalisation, not the defaults
    np.testing.assert_allclose(seg._mean.flatten().cpu().numpy(), [0.5, 0.4, 0.3])
    np.testing.assert_allclose(seg._std.flatten().cpu().numpy(), [0.2, 0.25, 0.3])
    out = g.ground(frame(), QUERIES)
    check_masks(out)
    rgb = frame().rgb
    masks = seg.masks(rgb, np.array([[2.0, 3.0, 40.0, 30.0], [10.0, 10.0, 79.0, 47.0], [0, 0, 5, 5]]))
    assert len(masks) == 3 and all(m.shape == (H, W) and m.dtype == bool for m in masks)
    again = seg.masks(rgb, np.array([[2.0, 3.0, 40.0, 30.0]]))
    assert np.array_equal(again[0], masks[0])  # a box's mask does not depend on the other boxes asked with it
    assert seg.masks(rgb, np.zeros((0, 4))) == []
    g.close()
    assert seg.model is None
    with pytest.raises(GroundingError, match='the segmenter was closed'):
        seg.masks(rgb, np.array([[0, 0, 5, 5]]))


def test_registry_and_defaults():
    assert GROUNDERS['owlv2'] is Owlv2Grounder and GROUNDERS['grounding_dino'] is GroundingDinoGrounder
    assert OPEN_VOCAB_KINDS == ['grounding_dino', 'owlv2']
    assert Owlv2GrounderConfig().detector_model == 'google/owlv2-base-patch16-ensemble'
    assert GroundingDinoGrounderConfig().detector_model == 'IDEA-Research/grounding-dino-tiny'
    c = Owlv2GrounderConfig()
    assert (c.model_device, c.model_dtype, c.segmenter_model, c.trust_remote_code, c.max_detections) == ('auto', 'float32', '',
                                                                                             False, 1)


@pytest.mark.parametrize('options, message', [
    ({'model_device': 'gpu'}, r"model_device: expected one of \['auto', 'cuda', 'cpu'\], got 'gpu'"),
    ({'model_dtype': 'fp16'}, r"model_dtype: expected one of \['float32', 'float16', 'bfloat16'\], got 'fp16'"),
    ({'detection_threshold': float('nan')}, 'detection_threshold: expected a finite number'),
    ({'detection_threshold': '0.2'}, "detection_threshold: expected a finite number .*, got '0.2'"),
    ({'max_detections': 0}, 'max_detections: expected an integer >= 1, got 0'),
    ({'min_pixels': 2.5}, 'min_pixels: expected an integer >= 1, got 2.5'),
    ({'detector_model': ' '}, "detector_model: expected a non-empty Hugging Face model id or local directory"),
    ({'segmenter_model': None}, 'segmenter_model: expected a Hugging Face model id or local directory .*got None'),
    ({'trust_remote_code': 'yes'}, "trust_remote_code: expected a bool, got 'yes'"),
])
def test_config_validation(options, message):
    for kind in OPEN_VOCAB_KINDS:
        with pytest.raises(GroundingError, match=message):
            make_grounder(kind, **options)


def test_load_errors(models, tmp_path):
    with pytest.raises(GroundingError, match=r"cannot load the OWLv2 detector '.*missing'.*save_pretrained\(\)") as err:
        make_grounder('owlv2', detector_model=str(tmp_path / 'missing'), **CPU)
    assert err.value.kind == 'model_load'
    with pytest.raises(GroundingError, match=r"is a 'grounding-dino' checkpoint but grounder 'owlv2' needs one of "
                                             r"\['owlv2'\]"):
        make_grounder('owlv2', detector_model=models['grounding_dino'], **CPU)
    with pytest.raises(GroundingError, match=r"segmenter model '.*' is a 'owlv2' checkpoint but the segmenter needs "
                                             r"one of \['sam', 'sam2'\]"):
        make_grounder('owlv2', detector_model=models['owlv2'], segmenter_model=models['owlv2'], **CPU)
    with pytest.raises(GroundingError, match="dtype 'float16' needs a CUDA device"):
        make_grounder('owlv2', detector_model=models['owlv2'], model_device='cpu', model_dtype='float16')
    if not torch.cuda.is_available():
        with pytest.raises(GroundingError, match="device 'cuda' was asked for but torch sees no CUDA device"):
            make_grounder('owlv2', detector_model=models['owlv2'], model_device='cuda')


def test_bfloat16_runs(models):
    g = make_grounder('owlv2', detector_model=models['owlv2'], detection_threshold=-1.0, **{**CPU, 'model_dtype': 'bfloat16'})
    assert next(g.model.parameters()).dtype == torch.bfloat16
    check_masks(g.ground(frame(), QUERIES))


def test_spatial_facts_node_loads_the_model_on_configure_and_frees_it_on_cleanup(models, ros_context):
    """The lifecycle of a model-holding node with a real (tiny) checkpoint: weights in memory only
    between configure and cleanup."""
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from spatialvlm_ros.ros.spatial_facts_node import SpatialFactsNode

    params = {'grounder': 'owlv2', 'detector_model': models['owlv2'], 'segmenter_model': models['sam'],
              'model_device': 'cpu', 'autostart': False, 'task': 'pick_and_place'}
    node = SpatialFactsNode(context=ros_context, namespace='/lc_model',
                            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    try:
        assert node.step is None  # nothing loaded before configure
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        grounder = node.step.pipeline.grounder
        assert isinstance(grounder, Owlv2Grounder) and grounder.model is not None and grounder.segmenter is not None
        assert node.step.pipeline.config.grounder_config['detector_model'] == models['owlv2']
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert grounder.model is None and grounder.segmenter is None and node.step is None
    finally:
        node.destroy_node()
