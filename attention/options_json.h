// options_json.h — attention options as JSON ({"features": 64, "redraw": false})
// and back, for the config.json of a saved model.
#pragma once
#include <nlohmann/json.hpp>

#include "attention/options.h"

namespace attnlab::attention {

nlohmann::json options_to_json(const Options& o);
Options options_from_json(const nlohmann::json& j);  // throws on a non-object or an array/null value

}  // namespace attnlab::attention
