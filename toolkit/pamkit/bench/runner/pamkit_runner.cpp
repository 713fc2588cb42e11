// pamkit_runner: times load, first run and steady-state runs of the methods of an ExecuTorch .pte.
// Built by pamkit.bench.native against the executorch wheel's libraries; prints JSON Lines, one
// flushed line per event, so a run that is killed still leaves every finished sample behind.
#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// The wheel ships libexecutorch_threadpool.so but not threadpool.h (it needs pthreadpool.h);
// these two members are all the runner calls, declared as in extension/threadpool/threadpool.h.
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  size_t get_thread_count() const;
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

using executorch::extension::Module;
using executorch::extension::TensorPtr;
using executorch::runtime::EValue;
using Clock = std::chrono::steady_clock;

namespace {

const char* kUsage =
    "usage: pamkit_runner --model M.pte [--method NAME]... [--warmup W=5] [--runs R=20] [--threads T=0]\n"
    "                     [--order interleaved|sequential] [--cooldown-ms C=0] [--seed S=0]";

struct Options {
  std::string model, order = "interleaved";
  std::vector<std::string> methods;
  long warmup = 5, runs = 20, threads = 0, cooldown_ms = 0, seed = 0;
};

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string quote_all(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + quote(items[i]);
  return out + "]";
}

std::string ms(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", value);
  return buf;
}

void emit(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

[[noreturn]] void fail(const std::string& message, int code = 1) {
  emit("{\"event\":\"error\",\"message\":" + quote(message) + "}");
  std::fprintf(stderr, "pamkit_runner: %s\n", message.c_str());
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) fail("missing value for " + flag + "\n" + kUsage, 2);
    const std::string value = argv[++i];
    auto number = [&](long& field) {
      size_t used = 0;
      try {
        field = std::stol(value, &used);
      } catch (const std::exception&) {
      }
      if (used != value.size() || field < 0) fail(flag + " needs a non-negative integer, got '" + value + "'", 2);
    };
    if (flag == "--model") o.model = value;
    else if (flag == "--method") o.methods.push_back(value);
    else if (flag == "--order") o.order = value;
    else if (flag == "--warmup") number(o.warmup);
    else if (flag == "--runs") number(o.runs);
    else if (flag == "--threads") number(o.threads);
    else if (flag == "--cooldown-ms") number(o.cooldown_ms);
    else if (flag == "--seed") number(o.seed);
    else fail("unknown option " + flag + "\n" + kUsage, 2);
  }
  if (o.model.empty()) fail(std::string("--model is required\n") + kUsage, 2);
  if (o.order != "interleaved" && o.order != "sequential") fail("--order must be interleaved or sequential", 2);
  return o;
}

// Seeded per method name (FNV-1a) so a method's inputs do not depend on which others are run.
std::vector<TensorPtr> make_inputs(Module& module, const std::string& method, long seed) {
  auto meta = module.method_meta(method);
  if (!meta.ok()) fail("cannot read metadata of method " + method);
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : method) hash = (hash ^ c) * 1099511628211ULL;
  std::mt19937 rng(static_cast<uint32_t>(hash ^ static_cast<uint64_t>(seed)));
  std::vector<TensorPtr> inputs;
  for (size_t i = 0; i < meta->num_inputs(); ++i) {
    auto tag = meta->input_tag(i);
    auto info = meta->input_tensor_meta(i);
    if (!tag.ok() || *tag != executorch::runtime::Tag::Tensor || !info.ok())
      fail("input " + std::to_string(i) + " of method " + method + " is not a tensor");
    const auto type = info->scalar_type();
    if (!executorch::runtime::canCast(executorch::aten::ScalarType::Float, type))
      fail("input " + std::to_string(i) + " of method " + method + " has unsupported dtype " +
           executorch::runtime::toString(type));
    std::vector<executorch::aten::SizesType> sizes(info->sizes().begin(), info->sizes().end());
    size_t numel = 1;
    for (auto s : sizes) numel *= static_cast<size_t>(s);
    std::vector<float> data(numel);
    for (auto& x : data) x = static_cast<float>(rng() >> 8) * (2.0f / 16777216.0f) - 1.0f;  // [-1, 1)
    inputs.push_back(executorch::extension::make_tensor_ptr(std::move(sizes), std::move(data), {}, {}, type));
  }
  return inputs;
}

double run_once(Module& module, const std::string& method, const std::vector<EValue>& inputs,
                std::vector<EValue>* outputs = nullptr) {
  const auto start = Clock::now();
  auto result = module.execute(method, inputs);
  const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!result.ok())
    fail("execute failed for method " + method + ": " + executorch::runtime::to_string(result.error()));
  if (outputs) *outputs = std::move(*result);
  return elapsed;
}

std::string shapes(const std::vector<EValue>& outputs) {
  std::string out = "[";
  for (size_t i = 0; i < outputs.size(); ++i) {
    out += i ? "," : "";
    if (!outputs[i].isTensor()) {
      out += "null";
      continue;
    }
    out += "[";
    const auto sizes = outputs[i].toTensor().sizes();
    for (size_t d = 0; d < sizes.size(); ++d) out += (d ? "," : "") + std::to_string(sizes[d]);
    out += "]";
  }
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (!std::ifstream(o.model, std::ios::binary)) fail("cannot open model file " + o.model);
  Module module(o.model, Module::LoadMode::Mmap);
  auto names = module.method_names();
  if (!names.ok())
    fail("cannot load program " + o.model + ": " + executorch::runtime::to_string(names.error()));
  std::vector<std::string> available(names->begin(), names->end());
  std::sort(available.begin(), available.end());
  if (o.methods.empty()) o.methods = available;
  for (const auto& m : o.methods)
    if (std::find(available.begin(), available.end(), m) == available.end())
      fail("unknown method " + m + "; the program has " + quote_all(available));

  auto* pool = executorch::extension::threadpool::get_threadpool();
  if (o.threads > 0 && !pool->_unsafe_reset_threadpool(static_cast<uint32_t>(o.threads)))
    fail("cannot resize the thread pool to " + std::to_string(o.threads) + " threads");
  emit("{\"event\":\"start\",\"runner\":\"pamkit_runner\",\"version\":1,\"model\":" + quote(o.model) +
       ",\"methods\":" + quote_all(o.methods) + ",\"warmup\":" + std::to_string(o.warmup) +
       ",\"runs\":" + std::to_string(o.runs) + ",\"threads\":" + std::to_string(o.threads) +
       ",\"pool_threads\":" + std::to_string(pool->get_thread_count()) + ",\"order\":" + quote(o.order) + "}");

  std::vector<std::vector<TensorPtr>> tensors;  // owns the data the EValues below point at
  std::vector<std::vector<EValue>> inputs;
  for (const auto& m : o.methods) {
    tensors.push_back(make_inputs(module, m, o.seed));
    inputs.emplace_back();
    for (const auto& t : tensors.back()) inputs.back().emplace_back(*t);
    const auto start = Clock::now();
    const auto error = module.load_method(m);
    const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (error != executorch::runtime::Error::Ok)
      fail("cannot load method " + m + ": " + executorch::runtime::to_string(error));
    std::vector<EValue> outputs;
    const double first_ms = run_once(module, m, inputs.back(), &outputs);
    emit("{\"event\":\"load\",\"method\":" + quote(m) + ",\"load_ms\":" + ms(load_ms) + ",\"first_ms\":" +
         ms(first_ms) + ",\"outputs\":" + shapes(outputs) + "}");
    for (long w = 0; w < o.warmup; ++w) run_once(module, m, inputs.back());
  }

  auto sample = [&](size_t k, long round, bool pause) {
    if (pause && o.cooldown_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.cooldown_ms));
    emit("{\"event\":\"sample\",\"method\":" + quote(o.methods[k]) + ",\"round\":" + std::to_string(round) +
         ",\"ms\":" + ms(run_once(module, o.methods[k], inputs[k])) + "}");
  };
  std::vector<size_t> order(o.methods.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  if (o.order == "interleaved") {  // every run follows a different method's run: cool down before each
    std::mt19937 rng(static_cast<uint32_t>(o.seed));
    for (long r = 0; r < o.runs; ++r) {
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t i = 0; i < order.size(); ++i) sample(order[i], r, r > 0 || i > 0);
    }
  } else {
    for (size_t k = 0; k < order.size(); ++k)
      for (long r = 0; r < o.runs; ++r) sample(k, r, k > 0 && r == 0);
  }
  emit("{\"event\":\"done\"}");
  return 0;
}
