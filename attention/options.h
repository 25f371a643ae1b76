// options.h — typed, defaulted options of an attention variant.
//
// A variant declares OptionSpecs (name, default, help); callers pass Options
// such as {{"features", 64}, {"redraw", false}} or parse "features=64" from the
// command line. The registry rejects unknown names and wrong types with an
// error that lists what is valid, then fills in the defaults.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace attnlab::attention {

using OptionValue = std::variant<bool, int64_t, double, std::string>;

struct OptionSpec {
    std::string name;
    OptionValue default_value;
    std::string help;
};

std::string option_type_name(const OptionValue& v);  // "bool", "int", "float", "string"
std::string option_to_string(const OptionValue& v);

class Options {
public:
    Options() = default;
    Options(std::initializer_list<std::pair<const std::string, OptionValue>> init) : values_(init) {}

    void set(const std::string& name, OptionValue v) { values_[name] = std::move(v); }
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    int64_t get_int(const std::string& name) const;
    double get_double(const std::string& name) const;  // an int value is accepted
    bool get_bool(const std::string& name) const;
    std::string get_string(const std::string& name) const;
    const std::map<std::string, OptionValue>& values() const { return values_; }
    std::string to_string() const;  // "features=64,redraw=false"

    // Parses "name=value" strings, typed by the matching spec; errors name the bad entry.
    static Options parse(const std::vector<std::string>& assignments, const std::vector<OptionSpec>& specs,
                         const std::string& variant);

private:
    const OptionValue& get(const std::string& name) const;
    std::map<std::string, OptionValue> values_;
};

}  // namespace attnlab::attention
