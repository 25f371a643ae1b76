// safetensors.cpp — see safetensors.h.
#include "nn/io/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/util/file_kind.h"
#include "nn/io/atomic_file.h"

namespace attnlab::nn {

static_assert(std::endian::native == std::endian::little, "safetensors data is little endian; so must the host be");

using json = nlohmann::json;

namespace {

struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;  // relative to the data section
};

const char* format_dtype(DType t) {
    switch (t) {
        case DType::Float32: return "F32";
        case DType::Int64: return "I64";
        case DType::Bool: return "BOOL";
    }
    return "?";
}

std::optional<DType> parse_dtype(const std::string& s) {
    if (s == "F32") return DType::Float32;
    if (s == "I64") return DType::Int64;
    if (s == "BOOL") return DType::Bool;
    return std::nullopt;
}

std::string where(const std::string& source) { return cat("safetensors '", source, "': "); }

uint64_t read_u64_le(const char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | uint64_t(static_cast<unsigned char>(p[i]));
    return v;
}

std::string u64_le(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[size_t(i)] = char((v >> (8 * i)) & 0xff);
    return s;
}

std::string offsets_str(const Entry& e) { return cat("[", e.begin, ", ", e.end, "]"); }

// ---- writing ---------------------------------------------------------------------

// The 8-byte length and the padded JSON header, plus the tensors (contiguous) in name order.
struct Prepared {
    std::string prefix;
    std::vector<Tensor> tensors;
};

Prepared prepare(const NamedTensors& named, const Metadata& metadata, const std::string& target) {
    std::map<std::string, Tensor> sorted;
    for (const auto& [name, t] : named) {
        check(!name.empty() && name != "__metadata__", where(target), "invalid tensor name '", name, "'");
        check(t.defined(), where(target), "tensor '", name, "' is undefined");
        check(sorted.emplace(name, t).second, where(target), "two tensors are named '", name, "'");
    }
    json header = json::object();
    Prepared p;
    uint64_t offset = 0;
    for (const auto& [name, t] : sorted) {
        Tensor c = t.contiguous();
        uint64_t bytes = uint64_t(c.numel()) * dtype_size(c.dtype());
        header[name] = {{"dtype", format_dtype(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        p.tensors.push_back(c);
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
    p.prefix = u64_le(text.size()) + text;
    return p;
}

const char* tensor_bytes(const Tensor& c) {
    if (c.numel() == 0) return nullptr;
    return static_cast<const char*>(c.raw()->storage->data) + c.offset() * int64_t(dtype_size(c.dtype()));
}

// ---- reading ---------------------------------------------------------------------

// Checks the 8-byte header length against the limit and the file size.
void check_header_length(uint64_t n, uint64_t file_size, const std::string& source) {
    check(n <= kSafetensorsMaxHeader, where(source), "header length ", n, " is larger than the ",
          kSafetensorsMaxHeader, "-byte limit (corrupted length prefix?)");
    check(n <= file_size - 8, where(source), "header length ", n, " exceeds the file size ", file_size,
          " (8-byte length + header + data)");
    check(n >= 2, where(source), "header length ", n, " is too short to hold a JSON object");
}

// A non-negative JSON integer, or an error naming `what`.
uint64_t as_u64(const json& v, const std::string& what) {
    if (!v.is_number_unsigned()) throw Error(cat(what, " must be a non-negative integer, got ", v.dump()));
    return v.get<uint64_t>();
}

// The sizes of a "shape" array; `nbytes` becomes their product times the dtype's size. Errors start with w.
std::vector<int64_t> parse_shape(const json& sh, DType dtype, const std::string& w, uint64_t& nbytes) {
    check(sh.is_array() && sh.size() <= 64, w, "shape must be an array of at most 64 sizes, got ",
          sh.is_array() ? cat(sh.size(), " entries") : sh.dump());
    std::vector<int64_t> shape;
    uint64_t elements = 1, extent = 1;  // extent: Π max(d, 1), must fit int64 for strides
    for (const json& d : sh) {
        uint64_t n = 0;
        try {
            n = as_u64(d, "every size in shape");
        } catch (const Error& err) {
            throw Error(w + err.what());
        }
        check(n <= uint64_t(INT64_MAX) && !__builtin_mul_overflow(extent, std::max<uint64_t>(n, 1), &extent) &&
                  extent <= uint64_t(INT64_MAX),
              w, "shape ", sh.dump(), " is too large");
        elements *= n;
        shape.push_back(int64_t(n));
    }
    check(!__builtin_mul_overflow(elements, uint64_t(dtype_size(dtype)), &nbytes), w, "shape ", sh.dump(),
          " is too large");
    return shape;
}

// e.begin and e.end from "data_offsets", checked to hold exactly nbytes inside a data section of data_len bytes.
void parse_offsets(const json& off, uint64_t nbytes, uint64_t data_len, const std::string& w, Entry& e) {
    check(off.is_array() && off.size() == 2, w, "data_offsets must be [begin, end], got ", off.dump());
    try {
        e.begin = as_u64(off[0], "data_offsets");
        e.end = as_u64(off[1], "data_offsets");
    } catch (const Error& err) {
        throw Error(w + err.what());
    }
    check(e.begin <= e.end, w, "data_offsets ", offsets_str(e), " end before they begin");
    check(e.end <= data_len, w, "data_offsets ", offsets_str(e), " lie outside the data section of ", data_len,
          " bytes (the file is too short or the offsets are wrong)");
    check(e.end - e.begin == nbytes, w, "data_offsets ", offsets_str(e), " hold ", e.end - e.begin,
          " bytes, but dtype ", format_dtype(e.dtype), " shape ", to_string(e.shape), " needs ", nbytes);
}

Entry parse_entry(const std::string& name, const json& v, uint64_t data_len, const std::string& source) {
    std::string w = cat(where(source), "tensor '", name, "': ");
    check(v.is_object(), w, "expected an object with dtype, shape, data_offsets, got ", v.dump());
    for (const char* key : {"dtype", "shape", "data_offsets"})
        check(v.contains(key), w, "missing \"", key, "\"");
    Entry e;
    e.name = name;
    const json& dt = v["dtype"];
    check(dt.is_string(), w, "dtype must be a string, got ", dt.dump());
    std::optional<DType> dtype = parse_dtype(dt.get<std::string>());
    check(dtype.has_value(), w, "unsupported dtype ", dt.dump(), " (attnlab reads F32, I64, BOOL)");
    e.dtype = *dtype;
    uint64_t nbytes = 0;
    e.shape = parse_shape(v["shape"], e.dtype, w, nbytes);
    parse_offsets(v["data_offsets"], nbytes, data_len, w, e);
    return e;
}

struct Header {
    std::vector<Entry> entries;  // sorted by data offset
    Metadata metadata;
};

// The header's JSON object; a key named twice at the top level or nesting deeper than 16 levels is an error.
json parse_header_json(std::string_view text, const std::string& source) {
    check(!text.empty() && text[0] == '{', where(source), "header does not start with '{' (not a safetensors file?)");
    std::set<std::string> keys;
    auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
        check(depth <= 16, where(source), "header JSON nests deeper than 16 levels");
        if (event == json::parse_event_t::key && depth == 1) {
            const auto& key = parsed.get_ref<const std::string&>();
            check(keys.insert(key).second, where(source), "header names '", key, "' twice");
        }
        return true;
    };
    json j;
    try {
        j = json::parse(text.begin(), text.end(), callback);
    } catch (const json::exception& e) {
        throw Error(cat(where(source), "header is not valid JSON: ", e.what()));
    }
    check(j.is_object(), where(source), "header must be a JSON object");
    return j;
}

// "__metadata__": an object of strings.
Metadata parse_metadata(const json& m, const std::string& source) {
    check(m.is_object(), where(source), "__metadata__ must be an object of strings, got ", m.dump());
    Metadata metadata;
    for (auto it = m.begin(); it != m.end(); ++it) {
        check(it->is_string(), where(source), "__metadata__ value of '", it.key(), "' must be a string, got ",
              it->dump());
        metadata[it.key()] = it->get<std::string>();
    }
    return metadata;
}

// The tensors must tile [0, data_len): sorted by offset, each starts where the previous ended.
void check_tiling(std::vector<Entry>& entries, uint64_t data_len, uint64_t file_size, const std::string& source) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
    });
    uint64_t expected = 0;
    const Entry* previous = nullptr;
    for (const Entry& e : entries) {
        check(e.begin >= expected, where(source), "tensors '", previous ? previous->name : "", "' and '", e.name,
              "' overlap (data_offsets ", previous ? offsets_str(*previous) : "", " and ", offsets_str(e), ")");
        check(e.begin == expected, where(source), "bytes [", expected, ", ", e.begin,
              ") of the data section belong to no tensor (a gap before '", e.name, "')");
        expected = e.end;
        previous = &e;
    }
    check(expected == data_len, where(source), "the tensors end at byte ", expected,
          " of the data section, but the file holds ", data_len, " data bytes (file size ", file_size, " != 8 + ",
          file_size - 8 - data_len, " + ", expected, "; trailing bytes?)");
}

// Parses and validates the JSON header against a data section of data_len bytes.
Header parse_header(std::string_view text, uint64_t data_len, uint64_t file_size, const std::string& source) {
    const json j = parse_header_json(text, source);
    Header h;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "__metadata__") h.metadata = parse_metadata(*it, source);
        else h.entries.push_back(parse_entry(it.key(), *it, data_len, source));
    }
    check_tiling(h.entries, data_len, file_size, source);  // sorts the entries by offset
    return h;
}

// BOOL bytes must be 0 or 1.
void check_bools(const Tensor& t, const std::string& name, const std::string& source) {
    const uint8_t* p = t.data_as<uint8_t>();
    for (int64_t i = 0; i < t.numel(); ++i)
        check(p[i] <= 1, where(source), "BOOL tensor '", name, "' holds byte ", int(p[i]), " at element ", i,
              "; expected 0 or 1");
}

// Allocates the tensors of `h`; read(offset, dst, n) fills n bytes from the data section.
template <class Read>
SafeTensors materialize(const Header& h, const std::string& source, const Read& read) {
    SafeTensors st;
    st.source = source;
    st.metadata = h.metadata;
    for (const Entry& e : h.entries) {
        Tensor t = Tensor::empty(e.shape, e.dtype);
        if (e.end > e.begin) read(e.begin, t.raw()->storage->data, size_t(e.end - e.begin));
        if (e.dtype == DType::Bool) check_bools(t, e.name, source);
        st.tensors.emplace(e.name, std::move(t));
    }
    return st;
}

// An open file with its size, closed on scope exit.
struct File {
    std::FILE* f = nullptr;
    uint64_t size = 0;
    std::string path;
    explicit File(const std::string& p) : path(p) {
        std::error_code ec;  // before fopen: opening a FIFO blocks until someone writes to it
        if (std::filesystem::exists(p, ec)) require_regular_file(p, "safetensors");
        f = std::fopen(p.c_str(), "rb");
        check(f != nullptr, where(p), "cannot open: ", std::strerror(errno));
        struct stat s {};
        if (::fstat(::fileno(f), &s) != 0 || !S_ISREG(s.st_mode)) {
            std::fclose(f);
            throw Error(cat(where(p), "not a regular file"));
        }
        size = uint64_t(s.st_size);
    }
    ~File() { std::fclose(f); }
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    void read_at(uint64_t offset, void* dst, size_t n) {
        check(::fseeko(f, off_t(offset), SEEK_SET) == 0 && std::fread(dst, 1, n, f) == n, where(path),
              "cannot read ", n, " bytes at offset ", offset, " (file changed while reading?)");
    }
};

// Reads and validates the header of an open file.
Header read_header(File& file, uint64_t& header_len) {
    check(file.size >= 8, where(file.path), "file is ", file.size,
          " bytes, shorter than the 8-byte header length (truncated?)");
    char len[8];
    file.read_at(0, len, 8);
    header_len = read_u64_le(len);
    check_header_length(header_len, file.size, file.path);
    std::string text(size_t(header_len), '\0');
    file.read_at(8, text.data(), text.size());
    return parse_header(text, file.size - 8 - header_len, file.size, file.path);
}

}  // namespace

const Tensor& SafeTensors::at(const std::string& name) const {
    auto it = tensors.find(name);
    if (it != tensors.end()) return it->second;
    std::string names;
    for (const auto& [n, t] : tensors) names += (names.empty() ? "" : ", ") + n;
    throw Error(cat(where(source), "no tensor named '", name, "'; the file holds: ", names));
}

std::string safetensors_to_bytes(const NamedTensors& tensors, const Metadata& metadata) {
    Prepared p = prepare(tensors, metadata, "<memory>");
    std::string out = p.prefix;
    for (const Tensor& t : p.tensors)
        if (t.numel() > 0) out.append(tensor_bytes(t), size_t(t.numel()) * dtype_size(t.dtype()));
    return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
    Prepared p = prepare(tensors, metadata, path);
    AtomicFile f(path);
    f.write(p.prefix.data(), p.prefix.size());
    for (const Tensor& t : p.tensors)
        if (t.numel() > 0) f.write(tensor_bytes(t), size_t(t.numel()) * dtype_size(t.dtype()));
    f.commit();
}

SafeTensors safetensors_from_bytes(std::string_view bytes, const std::string& source) try {
    uint64_t size = bytes.size();
    check(size >= 8, where(source), "file is ", size, " bytes, shorter than the 8-byte header length (truncated?)");
    uint64_t n = read_u64_le(bytes.data());
    check_header_length(n, size, source);
    Header h = parse_header(bytes.substr(8, size_t(n)), size - 8 - n, size, source);
    const char* data = bytes.data() + 8 + n;
    return materialize(h, source, [&](uint64_t offset, void* dst, size_t len) { std::memcpy(dst, data + offset, len); });
} catch (const Error& e) {
    throw Error(printable(e.what()));  // names and JSON excerpts from a corrupt header may be binary
}

SafeTensors load_safetensors(const std::string& path) try {
    File file(path);
    uint64_t n = 0;
    Header h = read_header(file, n);
    return materialize(h, path, [&](uint64_t offset, void* dst, size_t len) { file.read_at(8 + n + offset, dst, len); });
} catch (const Error& e) {
    throw Error(printable(e.what()));
}

Metadata read_safetensors_metadata(const std::string& path) try {
    File file(path);
    uint64_t n = 0;
    return read_header(file, n).metadata;
} catch (const Error& e) {
    throw Error(printable(e.what()));
}

}  // namespace attnlab::nn
