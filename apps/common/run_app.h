// run_app.h — the main() of an app: runs body(argc, argv) and turns any
// exception (a bad option, a missing or broken file) into one line
// "error: <what>" on stderr and exit code 1, never an abort.
//   static int run(int argc, char** argv) { ...; return 0; }
//   int main(int argc, char** argv) { return run_app(argc, argv, run); }
#pragma once
#include <cstdio>
#include <exception>

template <class Body>
int run_app(int argc, char** argv, const Body& body) {
    try {
        return body(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
