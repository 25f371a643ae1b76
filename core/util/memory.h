// memory.h — how much memory this process has used: the peak resident set size.
//
//   peak RSS = getrusage(RUSAGE_SELF).ru_maxrss   (KB on Linux) / 1024  →  MB
// The high-water mark of physical memory since the process started; it never
// goes down. Cost: one system call.
#pragma once
#include <sys/resource.h>

namespace attnlab {

// Peak resident set size of this process in MB.
inline double peak_rss_mb() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0;
}

}  // namespace attnlab
