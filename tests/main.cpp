// main.cpp — Catch2 entry point of the test suite (one binary, one CTest test per TEST_CASE).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
