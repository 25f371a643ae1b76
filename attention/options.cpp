// options.cpp — typed access and parsing of attention options (see options.h).
#include "attention/options.h"

#include <sstream>

#include "core/util/error.h"

namespace attnlab::attention {

std::string option_type_name(const OptionValue& v) {
    switch (v.index()) {
        case 0: return "bool";
        case 1: return "int";
        case 2: return "float";
        default: return "string";
    }
}

std::string option_to_string(const OptionValue& v) {
    if (auto b = std::get_if<bool>(&v)) return *b ? "true" : "false";
    if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
    if (auto d = std::get_if<double>(&v)) {
        std::ostringstream os;
        os << *d;
        return os.str();
    }
    return std::get<std::string>(v);
}

const OptionValue& Options::get(const std::string& name) const {
    auto it = values_.find(name);
    check(it != values_.end(), "attention option '", name, "' is not set");
    return it->second;
}

int64_t Options::get_int(const std::string& name) const {
    const OptionValue& v = get(name);
    check(std::holds_alternative<int64_t>(v), "attention option '", name, "' must be an int, got ",
          option_type_name(v), " ", option_to_string(v));
    return std::get<int64_t>(v);
}

double Options::get_double(const std::string& name) const {
    const OptionValue& v = get(name);
    if (auto i = std::get_if<int64_t>(&v)) return double(*i);
    check(std::holds_alternative<double>(v), "attention option '", name, "' must be a number, got ",
          option_type_name(v), " ", option_to_string(v));
    return std::get<double>(v);
}

bool Options::get_bool(const std::string& name) const {
    const OptionValue& v = get(name);
    check(std::holds_alternative<bool>(v), "attention option '", name, "' must be a bool, got ", option_type_name(v),
          " ", option_to_string(v));
    return std::get<bool>(v);
}

std::string Options::get_string(const std::string& name) const {
    const OptionValue& v = get(name);
    check(std::holds_alternative<std::string>(v), "attention option '", name, "' must be a string, got ",
          option_type_name(v), " ", option_to_string(v));
    return std::get<std::string>(v);
}

std::string Options::to_string() const {
    std::string s;
    for (const auto& [k, v] : values_) s += (s.empty() ? "" : ",") + k + "=" + option_to_string(v);
    return s;
}

static std::string spec_list(const std::vector<OptionSpec>& specs) {
    if (specs.empty()) return "(this variant has no options)";
    std::string s;
    for (const OptionSpec& sp : specs)
        s += "\n  " + sp.name + " (" + option_type_name(sp.default_value) + ", default " +
             option_to_string(sp.default_value) + "): " + sp.help;
    return s;
}

Options Options::parse(const std::vector<std::string>& assignments, const std::vector<OptionSpec>& specs,
                       const std::string& variant) {
    Options out;
    for (const std::string& a : assignments) {
        size_t eq = a.find('=');
        check(eq != std::string::npos && eq > 0, "attention option '", a, "' for ", variant,
              ": expected name=value; valid options:", spec_list(specs));
        std::string name = a.substr(0, eq), text = a.substr(eq + 1);
        const OptionSpec* spec = nullptr;
        for (const OptionSpec& sp : specs)
            if (sp.name == name) spec = &sp;
        check(spec != nullptr, "unknown option '", name, "' for attention ", variant, "; valid options:", spec_list(specs));
        const OptionValue& def = spec->default_value;
        try {
            size_t used = 0;
            if (std::holds_alternative<bool>(def)) {
                check(text == "true" || text == "false" || text == "1" || text == "0", "not a bool");
                out.set(name, text == "true" || text == "1");
            } else if (std::holds_alternative<int64_t>(def)) {
                int64_t v = std::stoll(text, &used);
                check(used == text.size(), "trailing characters");
                out.set(name, v);
            } else if (std::holds_alternative<double>(def)) {
                double v = std::stod(text, &used);
                check(used == text.size(), "trailing characters");
                out.set(name, v);
            } else {
                out.set(name, text);
            }
        } catch (const std::exception&) {
            throw Error(cat("attention option ", name, "=", text, " for ", variant, ": expected ",
                            std::holds_alternative<int64_t>(def) ? "an " : "a ", option_type_name(def), " (", spec->help, ")"));
        }
    }
    return out;
}

}  // namespace attnlab::attention
