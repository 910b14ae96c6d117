"""The bundled model's network as an ONNX graph, built straight from its safetensors weights.

all-MiniLM-L6-v2 is a BERT encoder (6 layers, 384 wide, 12 heads). Rather than tracing it
through torch — several GB to install for one export — the graph is written layer by layer
with onnx's own graph builder and filled with the weights read by `safetensors` into numpy:

    embeddings (word + position + token type) → LayerNorm
    × layers: self-attention (Q, K, V, softmax with the padding mask) → dense → add & LayerNorm
              → intermediate dense → GELU (erf) → dense → add & LayerNorm
    output: last_hidden_state [batch, tokens, hidden]

Mean pooling and normalisation stay in numpy (`onnx_model.OnnxEncoder`), as before. The vectors
match sentence-transformers' to a cosine of 1 − 1e-7 (tests/fixtures/minilm_reference.json).
Only BERT-shaped models are built this way; `exportable` says which.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17  # LayerNormalization is an operator from opset 17 on


def supported(model_dir: Path) -> bool:
    """Whether `model_dir` holds a BERT encoder this builder knows, in safetensors."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and (model_dir / "model.safetensors").exists())


def build(model_dir: Path, target: Path) -> None:
    """Write the ONNX graph of the BERT encoder in `model_dir` to `target`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    weights = load_file(str(model_dir / "model.safetensors"))
    graph = _Graph(weights, float(config.get("layer_norm_eps", 1e-12)))
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    states = graph.embeddings()
    bias = graph.mask_bias()
    for layer in range(int(config["num_hidden_layers"])):
        states = graph.layer(states, bias, f"encoder.layer.{layer}", hidden, heads)
    graph.nodes.append(helper.make_node("Identity", [states], ["last_hidden_state"]))

    axes = ["batch", "tokens"]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, axes)
              for name in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*axes, hidden])
    initializers = [numpy_helper.from_array(array, name) for name, array in graph.initializers.items()]
    model = helper.make_model(helper.make_graph(graph.nodes, "bert-encoder", inputs, [output], initializers),
                              opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ragqa")
    model.ir_version = min(model.ir_version, 9)
    onnx.checker.check_model(model)
    onnx.save_model(model, str(target))


class _Graph:
    """Nodes and initializers of the graph under construction, with unique names."""

    def __init__(self, weights: dict[str, Any], epsilon: float) -> None:
        self.weights = weights
        self.epsilon = epsilon
        self.nodes: list[Any] = []
        self.initializers: dict[str, Any] = {}
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def op(self, kind: str, inputs: list[str], **attributes: Any) -> str:
        from onnx import helper

        output = self._name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [output], **attributes))
        return output

    def const(self, name: str, value: Any) -> str:
        if name not in self.initializers:
            self.initializers[name] = np.asarray(value)
        return name

    def weight(self, name: str, transpose: bool = False) -> str:
        array = np.asarray(self.weights[name], dtype=np.float32)
        return self.const(name, np.ascontiguousarray(array.T) if transpose else array)

    def dense(self, states: str, prefix: str) -> str:
        """states @ Wᵀ + b, for a torch Linear layer's weights."""
        product = self.op("MatMul", [states, self.weight(f"{prefix}.weight", transpose=True)])
        return self.op("Add", [product, self.weight(f"{prefix}.bias")])

    def layer_norm(self, states: str, prefix: str) -> str:
        return self.op("LayerNormalization", [states, self.weight(f"{prefix}.weight"),
                                              self.weight(f"{prefix}.bias")],
                       axis=-1, epsilon=self.epsilon)

    def embeddings(self) -> str:
        ids_shape = self.op("Shape", ["input_ids"])
        length = self.op("Gather", [ids_shape, self.const("one_index", np.array(1, dtype=np.int64))])
        positions = self.op("Range", [self.const("zero", np.array(0, dtype=np.int64)), length,
                                      self.const("step", np.array(1, dtype=np.int64))])
        words = self.op("Gather", [self.weight("embeddings.word_embeddings.weight"), "input_ids"])
        places = self.op("Gather", [self.weight("embeddings.position_embeddings.weight"), positions])
        kinds = self.op("Gather", [self.weight("embeddings.token_type_embeddings.weight"), "token_type_ids"])
        summed = self.op("Add", [self.op("Add", [words, places]), kinds])
        return self.layer_norm(summed, "embeddings.LayerNorm")

    def mask_bias(self) -> str:
        """0 where a token may be attended to, a large negative number at padding: [B, 1, 1, T]."""
        mask = self.op("Cast", ["attention_mask"], to=1)  # 1 = FLOAT
        inverted = self.op("Sub", [self.const("one_float", np.array(1.0, dtype=np.float32)), mask])
        bias = self.op("Mul", [inverted, self.const("mask_value", np.array(np.finfo(np.float32).min,
                                                                            dtype=np.float32))])
        return self.op("Unsqueeze", [bias, self.const("mask_axes", np.array([1, 2], dtype=np.int64))])

    def layer(self, states: str, bias: str, prefix: str, hidden: int, heads: int) -> str:
        size = hidden // heads
        split = self.const(f"split_{heads}_{size}", np.array([0, 0, heads, size], dtype=np.int64))
        merge = self.const(f"merge_{hidden}", np.array([0, 0, hidden], dtype=np.int64))

        def heads_of(name: str, perm: list[int]) -> str:
            projected = self.dense(states, f"{prefix}.attention.self.{name}")
            return self.op("Transpose", [self.op("Reshape", [projected, split])], perm=perm)

        query, key = heads_of("query", [0, 2, 1, 3]), heads_of("key", [0, 2, 3, 1])
        value = heads_of("value", [0, 2, 1, 3])
        scale = self.const(f"scale_{size}", np.array(math.sqrt(size), dtype=np.float32))
        scores = self.op("Add", [self.op("Div", [self.op("MatMul", [query, key]), scale]), bias])
        context = self.op("MatMul", [self.op("Softmax", [scores], axis=-1), value])
        merged = self.op("Reshape", [self.op("Transpose", [context], perm=[0, 2, 1, 3]), merge])
        attended = self.dense(merged, f"{prefix}.attention.output.dense")
        attended = self.layer_norm(self.op("Add", [attended, states]), f"{prefix}.attention.output.LayerNorm")
        inner = self._gelu(self.dense(attended, f"{prefix}.intermediate.dense"))
        output = self.dense(inner, f"{prefix}.output.dense")
        return self.layer_norm(self.op("Add", [output, attended]), f"{prefix}.output.LayerNorm")

    def _gelu(self, states: str) -> str:
        """GELU as BERT defines it: x · ½ · (1 + erf(x / √2))."""
        root_two = self.const("sqrt_two", np.array(math.sqrt(2.0), dtype=np.float32))
        half = self.const("half", np.array(0.5, dtype=np.float32))
        one = self.const("one_float", np.array(1.0, dtype=np.float32))
        erf = self.op("Erf", [self.op("Div", [states, root_two])])
        return self.op("Mul", [self.op("Mul", [states, half]), self.op("Add", [erf, one])])
