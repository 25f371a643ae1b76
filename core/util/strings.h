// strings.h — splitting a list option ("0,1,2") into its parts; quoting a shell word or a CSV field.
#pragma once
#include <string>
#include <vector>

namespace attnlab {

// "a,b,,c" split at ',' -> {"a", "b", "", "c"}: the parts of a list option, empty ones kept
// (so the caller decides whether "0,,1" is an error); "" -> {""}.
inline std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts(1);
    for (char c : text) {
        if (c == separator) parts.emplace_back();
        else parts.back().push_back(c);
    }
    return parts;
}

// `text` between two `quote` characters, each `quote` inside written as `escaped`.
inline std::string enclose(const std::string& text, char quote, const std::string& escaped) {
    std::string out(1, quote);
    for (char c : text) out += c == quote ? escaped : std::string(1, c);
    return out + quote;
}

// `text` as one POSIX sh word: single-quoted, each ' written as '\''.
inline std::string shell_quote(const std::string& text) { return enclose(text, '\'', "'\\''"); }

// One CSV field (RFC 4180): as is, or in double quotes, with each " doubled, when it holds a
// comma, a quote or a line break: "rfa (trig, unit q and k)".
inline std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    return enclose(text, '"', "\"\"");
}

}  // namespace attnlab
