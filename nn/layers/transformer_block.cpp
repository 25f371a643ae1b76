// transformer_block.cpp — see transformer_block.h.
#include "nn/layers/transformer_block.h"

namespace attnlab::nn {

TransformerBlock::TransformerBlock(const BlockConfig& c) {
    norm1 = register_module("norm1", std::make_shared<LayerNorm>(c.dim));
    attn = register_module("attn", std::make_shared<MultiHeadAttention>(c.dim, c.heads, c.attention, c.seq_len, c.dropout));
    norm2 = register_module("norm2", std::make_shared<LayerNorm>(c.dim));
    mlp = register_module("mlp", std::make_shared<MLP>(c.dim, c.mlp_hidden, c.dropout));
    drop_path = register_module("drop_path", std::make_shared<DropPath>(c.drop_path));
}

Tensor TransformerBlock::forward(const Tensor& x) {
    Tensor h = x + drop_path->forward(attn->forward(norm1->forward(x)));
    return h + drop_path->forward(mlp->forward(norm2->forward(h)));
}

}  // namespace attnlab::nn
