// test_strings.cpp — list options split into their parts; shell words and CSV fields quoted.
#include "core/util/strings.h"
#include "tests/support/helpers.h"

using namespace attnlab;

TEST_CASE("split keeps empty parts, so the caller can reject them", "[core][strings]") {
    CHECK(split("0,1,2", ',') == std::vector<std::string>{"0", "1", "2"});
    CHECK(split("a,,b", ',') == std::vector<std::string>{"a", "", "b"});
    CHECK(split("", ',') == std::vector<std::string>{""});
}

TEST_CASE("csv_field quotes a field holding a comma, a quote or a line break, and doubles its quotes", "[core][strings]") {
    CHECK(csv_field("nystrom") == "nystrom");
    CHECK(csv_field("rfa (trig, unit q and k)") == "\"rfa (trig, unit q and k)\"");
    CHECK(csv_field("a \"b\"") == "\"a \"\"b\"\"\"");
    CHECK(csv_field("two\nlines") == "\"two\nlines\"");
    CHECK(csv_field("") == "");
}

TEST_CASE("shell_quote makes one sh word of any text, a single quote included", "[core][strings]") {
    CHECK(shell_quote("results/study.gp") == "'results/study.gp'");
    CHECK(shell_quote("it's") == "'it'\\''s'");
    CHECK(enclose("it's", '\'', "''") == "'it''s'");  // gnuplot's escape
}
