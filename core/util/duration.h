// duration.h — seconds as a clock reading for progress lines and summaries.
//
//   hms(75) = "1:15",  hms(3725) = "1:02:05"   (rounded to the second)
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace attnlab {

// "m:ss" below an hour, "h:mm:ss" from one hour on.
inline std::string hms(double seconds) {
    int64_t s = int64_t(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", long(s / 3600), long(s / 60 % 60), long(s % 60));
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", long(s / 60), long(s % 60));
    return buf;
}

}  // namespace attnlab
