// test_tensor.cpp — tensor creation, views sharing storage, layout and errors.
#include "tests/support/helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

TEST_CASE("a new tensor is contiguous with row-major strides", "[tensor]") {
    Tensor t = Tensor::zeros({2, 3, 4});
    REQUIRE(t.shape() == Shape{2, 3, 4});
    REQUIRE(t.strides() == Strides{12, 4, 1});
    REQUIRE(t.numel() == 24);
    REQUIRE(t.is_contiguous());
    REQUIRE(t.size(-1) == 4);
    REQUIRE(t.dtype() == DType::Float32);
}

TEST_CASE("from_vector checks that the values fill the shape", "[tensor][errors]") {
    REQUIRE_THROWS_WITH(Tensor::from_vector({1, 2, 3}, {2, 2}), Catch::Contains("3 values do not fill shape [2,2]"));
}

TEST_CASE("reshape, transpose, permute and slice are views of the same storage", "[tensor]") {
    Tensor t = Tensor::arange(12).reshape({3, 4});
    Tensor tt = t.transpose(0, 1);
    REQUIRE(tt.shape() == Shape{4, 3});
    REQUIRE_FALSE(tt.is_contiguous());
    REQUIRE(tt.raw()->storage == t.raw()->storage);
    REQUIRE(tt.at({1, 2}) == 9.f);  // t[2][1]
    Tensor s = t.slice(1, 1, 3);
    REQUIRE(s.raw()->storage == t.raw()->storage);
    require_close(s, {1, 2, 5, 6, 9, 10});
    Tensor p = Tensor::arange(24).reshape({2, 3, 4}).permute({2, 0, 1});
    REQUIRE(p.shape() == Shape{4, 2, 3});
    REQUIRE(p.at({3, 1, 2}) == 23.f);
    fill_(s, 0.f);  // writing through a view changes the base
    require_close(t.slice(0, 0, 1), {0, 0, 0, 3});
}

TEST_CASE("contiguous copies a strided view into row-major order", "[tensor]") {
    Tensor t = Tensor::arange(6).reshape({2, 3}).transpose(0, 1).contiguous();
    REQUIRE(t.is_contiguous());
    require_close(t, {0, 3, 1, 4, 2, 5});
}

TEST_CASE("view refuses layouts that need a copy, reshape copies", "[tensor][errors]") {
    Tensor t = Tensor::arange(6).reshape({2, 3}).transpose(0, 1);
    REQUIRE_THROWS_WITH(t.view({6}), Catch::Contains("view: cannot view [3,2]"));
    require_close(t.reshape({6}), {0, 3, 1, 4, 2, 5});
    REQUIRE(Tensor::arange(6).reshape({2, -1}).shape() == Shape{2, 3});
    REQUIRE_THROWS_WITH(Tensor::arange(6).reshape({4, -1}), Catch::Contains("cannot reshape [6]"));
}

TEST_CASE("slice follows Python rules for negative and out-of-range bounds", "[tensor]") {
    Tensor t = Tensor::arange(10);
    require_close(t.slice(0, -3, 100), {7, 8, 9});
    require_close(t.slice(0, 1, 8, 3), {1, 4, 7});
    REQUIRE(t.slice(0, 5, 2).numel() == 0);
    REQUIRE_THROWS_WITH(t.narrow(0, 8, 5), Catch::Contains("narrow: [8, 13) out of range"));
}

TEST_CASE("expand broadcasts size-1 dims with stride 0", "[tensor]") {
    Tensor t = Tensor::from_vector({1, 2, 3}, {3, 1}).expand({3, 4});
    REQUIRE(t.strides()[1] == 0);
    require_close(t, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
    REQUIRE_THROWS_WITH(Tensor::zeros({3, 2}).expand({3, 4}), Catch::Contains("expand: cannot expand [3,2]"));
}

TEST_CASE("int64 and bool tensors convert and refuse float-only ops", "[tensor][errors]") {
    Tensor idx = Tensor::from_indices({3, 1, 2}, {3});
    REQUIRE(idx.dtype() == DType::Int64);
    REQUIRE(idx.to_indices() == std::vector<int64_t>{3, 1, 2});
    require_close(idx.to(DType::Float32), {3, 1, 2});
    REQUIRE_THROWS_WITH(exp(idx), Catch::Contains("exp: expected a float32 tensor, got int64"));
    REQUIRE_THROWS_WITH(idx.requires_grad_(), Catch::Contains("only float32"));
    Tensor m = gt(Tensor::from_vector({1, -1, 2}, {3}), Tensor::scalar(0.f));
    REQUIRE(m.dtype() == DType::Bool);
    require_close(m.to(DType::Float32), {1, 0, 1});
}

TEST_CASE("matmul shape errors name the op and both shapes", "[tensor][errors]") {
    REQUIRE_THROWS_WITH(matmul(Tensor::zeros({128, 64}), Tensor::zeros({32, 10})),
                        "matmul: [128,64] x [32,10]: inner dimensions 64 and 32 differ");
    REQUIRE_THROWS_WITH(add(Tensor::zeros({2, 3}), Tensor::zeros({4})),
                        Catch::Contains("add: shapes [2,3] and [4] cannot be broadcast"));
    REQUIRE_THROWS_WITH(linear(Tensor::zeros({5, 3}), Tensor::zeros({4, 2}), Tensor()),
                        Catch::Contains("linear: input [5,3] does not match weight [4,2]"));
    REQUIRE_THROWS_WITH(Tensor::zeros({2}).item(), Catch::Contains("item: tensor of shape [2] has 2 elements"));
}

TEST_CASE("concat, stack and pad build the expected layouts", "[tensor]") {
    Tensor a = Tensor::from_vector({1, 2, 3, 4}, {2, 2}), b = Tensor::from_vector({5, 6}, {2, 1});
    require_close(concat({a, b}, 1), {1, 2, 5, 3, 4, 6});
    REQUIRE(stack({a, a}, 0).shape() == Shape{2, 2, 2});
    require_close(stack({Tensor::from_vector({1, 2}, {2}), Tensor::from_vector({3, 4}, {2})}, 1), {1, 3, 2, 4});
    require_close(pad(Tensor::from_vector({1, 2}, {1, 2}), {1, 0, 0, 1}, -1.f), {-1, 1, 2, -1, -1, -1});
    REQUIRE_THROWS_WITH(concat({a, Tensor::zeros({3, 1})}, 1), Catch::Contains("differs from tensor 0 [2,2] outside dim 1"));
}

TEST_CASE("printing shows shape, dtype and values", "[tensor]") {
    std::string s = Tensor::from_vector({1, 2}, {2}).str();
    REQUIRE(s.find("Tensor[2] float32") != std::string::npos);
    REQUIRE(s.find("{1, 2}") != std::string::npos);
}

TEST_CASE("a tensor that would pass the storage limit throws OutOfMemoryError naming the sizes and the limit",
          "[tensor][errors]") {
    const size_t before = storage_bytes_in_use();
    set_storage_limit(before + (size_t(1) << 20));  // 1 MB more than is live now
    Tensor small = Tensor::zeros({1000});            // fits
    CHECK_THROWS_AS(Tensor::zeros({1 << 20}), OutOfMemoryError);  // 4 MB does not
    CHECK_THROWS_WITH(Tensor::zeros({1 << 20}), Catch::Contains("out of memory: a tensor of 4 MB") &&
                                                    Catch::Contains("above the memory limit of"));
    CHECK(storage_bytes_in_use() == before + 4000);  // the refused tensor took nothing
    set_storage_limit(0);
    CHECK(Tensor::zeros({1 << 20}).numel() == 1 << 20);  // no limit: it fits again
}

TEST_CASE("storage is freed when the last view goes away", "[tensor]") {
    size_t before = storage_bytes_in_use();
    {
        Tensor t = Tensor::zeros({1000});
        Tensor v = t.slice(0, 0, 10);
        REQUIRE(storage_bytes_in_use() == before + 4000);
    }
    REQUIRE(storage_bytes_in_use() == before);
}
