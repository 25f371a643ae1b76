// safetensors.h — read and write the safetensors format (Hugging Face), so
// that attnlab weights open in Python (safetensors.torch.load_file) and back.
//
// Layout of a file:
//   [8 bytes]  N, the header length, unsigned 64-bit little endian
//   [N bytes]  UTF-8 JSON, padded with spaces to a multiple of 8:
//              {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//               "__metadata__": {"key": "value", ...}}          (metadata: strings only, optional)
//   [rest]     the data section: each tensor's bytes, row-major, little endian,
//              at [begin, end) relative to the start of the data section
// The tensors must tile the data section exactly: no overlap, no gap, nothing
// after the last one. We write them in name order. dtypes: F32, I64, BOOL.
// Cost: one pass over the bytes; loading reads the file once.
//
// Loading treats the file as hostile: every length, offset and shape is
// checked (with overflow checks) before it is used, and any problem throws
// attnlab::Error naming the file and what was expected and found.
//
//   nn::save_safetensors("w.safetensors", {{"w", w}, {"b", b}}, {{"format", "pt"}});
//   nn::SafeTensors st = nn::load_safetensors("w.safetensors");
//   Tensor w2 = st.at("w");   st.metadata["format"] == "pt"
// Writing is atomic (see atomic_file.h): a crash leaves the old file or the new one.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/module/module.h"

namespace attnlab::nn {

using Metadata = std::map<std::string, std::string>;

struct SafeTensors {
    std::map<std::string, Tensor> tensors;  // by name
    Metadata metadata;
    // The tensor named `name`; throws listing what the file holds when absent.
    const Tensor& at(const std::string& name) const;
    bool contains(const std::string& name) const { return tensors.count(name) > 0; }
    std::string source;  // file name, for error messages
};

// Header length limit (the reference implementation's 100 MB).
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});
SafeTensors load_safetensors(const std::string& path);
// Only the header's metadata (reads 8 + N bytes, validates the whole header).
Metadata read_safetensors_metadata(const std::string& path);

// The same format in memory; `source` names the bytes in error messages.
std::string safetensors_to_bytes(const NamedTensors& tensors, const Metadata& metadata = {});
SafeTensors safetensors_from_bytes(std::string_view bytes, const std::string& source = "<memory>");

}  // namespace attnlab::nn
