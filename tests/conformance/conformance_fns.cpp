// libconformance.so: see conformance_fns.hpp.
#include "conformance_fns.hpp"

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <thread>

#include <uni/module.hpp>

bool echo_bool(bool v) { return v; }
std::int8_t echo_i8(std::int8_t v) { return v; }
std::uint8_t echo_u8(std::uint8_t v) { return v; }
std::int16_t echo_i16(std::int16_t v) { return v; }
std::uint16_t echo_u16(std::uint16_t v) { return v; }
std::int32_t echo_i32(std::int32_t v) { return v; }
std::uint32_t echo_u32(std::uint32_t v) { return v; }
std::int64_t echo_i64(std::int64_t v) { return v; }
std::uint64_t echo_u64(std::uint64_t v) { return v; }
float echo_f32(float v) { return v; }
double echo_f64(double v) { return v; }
std::string echo_string(std::string v) { return v; }
std::vector<std::uint8_t> echo_bytes(std::vector<std::uint8_t> v) { return v; }
std::vector<std::int64_t> echo_vector(std::vector<std::int64_t> v) { return v; }
std::vector<std::vector<std::string>> echo_nested(std::vector<std::vector<std::string>> v) {
  return v;
}
std::array<int, 3> echo_array(std::array<int, 3> v) { return v; }
std::map<std::string, double> echo_map(std::map<std::string, double> v) { return v; }
std::optional<int> echo_optional(std::optional<int> v) { return v; }
std::tuple<int, std::string, bool> echo_tuple(std::tuple<int, std::string, bool> v) { return v; }
std::pair<std::string, int> echo_pair(std::pair<std::string, int> v) { return v; }
conformance::Point echo_point(conformance::Point v) { return v; }
conformance::Labelled echo_labelled(conformance::Labelled v) { return v; }
void nothing(int) {}

int add(int a, int b) { return a + b; }
std::int64_t ident(std::int64_t v) { return v; }
int fail(std::string why) { throw std::runtime_error("boom: " + why); }
int crash(int v) {
  std::raise(SIGSEGV);
  return v;
}
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

UNI_EXPORT(echo_bool);
UNI_EXPORT(echo_i8);
UNI_EXPORT(echo_u8);
UNI_EXPORT(echo_i16);
UNI_EXPORT(echo_u16);
UNI_EXPORT(echo_i32);
UNI_EXPORT(echo_u32);
UNI_EXPORT(echo_i64);
UNI_EXPORT(echo_u64);
UNI_EXPORT(echo_f32);
UNI_EXPORT(echo_f64);
UNI_EXPORT(echo_string);
UNI_EXPORT(echo_bytes);
UNI_EXPORT(echo_vector);
UNI_EXPORT(echo_nested);
UNI_EXPORT(echo_array);
UNI_EXPORT(echo_map);
UNI_EXPORT(echo_optional);
UNI_EXPORT(echo_tuple);
UNI_EXPORT(echo_pair);
UNI_EXPORT(echo_point);
UNI_EXPORT(echo_labelled);
UNI_EXPORT(nothing);
UNI_EXPORT(add);
UNI_EXPORT(ident);
UNI_EXPORT(fail);
UNI_EXPORT(crash);
UNI_EXPORT(sleep_ms);
