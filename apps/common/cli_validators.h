// cli_validators.h — CLI11 checks the apps share.
#pragma once
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <string>

// CLI::Range lets NaN through (every comparison with NaN is false): reject non-finite numbers first.
inline const CLI::Validator kFinite(
    [](std::string& text) {
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        return end != text.c_str() && std::isfinite(v) ? std::string() : "'" + text + "' is not a finite number";
    },
    "FINITE");
