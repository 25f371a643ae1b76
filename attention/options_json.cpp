// options_json.cpp — see options_json.h.
#include "attention/options_json.h"

#include "core/util/error.h"

namespace attnlab::attention {

nlohmann::json options_to_json(const Options& o) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : o.values()) std::visit([&](const auto& x) { j[k] = x; }, v);
    return j;
}

Options options_from_json(const nlohmann::json& j) {
    Options o;
    check(j.is_object(), "attention options must be a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it->is_boolean()) o.set(it.key(), it->get<bool>());
        else if (it->is_number_integer()) o.set(it.key(), it->get<int64_t>());
        else if (it->is_number()) o.set(it.key(), it->get<double>());
        else if (it->is_string()) o.set(it.key(), it->get<std::string>());
        else throw Error(cat("attention option '", it.key(), "' has an unsupported JSON type"));
    }
    return o;
}

}  // namespace attnlab::attention
