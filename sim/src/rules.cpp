// Built-in rules: actions, per-tick rules, and the text form of actions.
#include <troupe/sim/rules.hpp>

#include "world_internal.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <bit>
#include <charconv>
#include <cmath>
#include <string_view>
#include <system_error>
#include <vector>

namespace troupe::sim {

namespace {

template <class... Fs> struct Overloaded : Fs... { using Fs::operator()...; };
template <class... Fs> Overloaded(Fs...) -> Overloaded<Fs...>;


// ---- formatting -----------------------------------------------------------

void put(std::string& out, float v) {
  // Shortest form that reads back to the same float (std::to_chars guarantee).
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.push_back(' ');
  out.append(buf, r.ptr);
}

void put(std::string& out, std::uint32_t v) {
  char buf[16];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.push_back(' ');
  out.append(buf, r.ptr);
}

void put(std::string& out, Vec3 v) {
  put(out, v.x);
  put(out, v.y);
  put(out, v.z);
}

void put_hex(std::string& out, std::uint32_t v) {
  char buf[16];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, 16);
  out.push_back(' ');
  // Always 8 digits, so the colour reads as RRGGBBAA.
  out.append(static_cast<std::size_t>(8 - (r.ptr - buf)), '0');
  out.append(buf, r.ptr);
}

// ---- parsing --------------------------------------------------------------

/// Reads the tokens of one action and says precisely what went wrong.
class Reader {
public:
  explicit Reader(std::string_view text) {
    std::size_t k = 0;
    while (k < text.size()) {
      while (k < text.size() && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r' ||
                                 text[k] == '\n'))
        ++k;
      const std::size_t start = k;
      while (k < text.size() && !(text[k] == ' ' || text[k] == '\t' || text[k] == '\r' ||
                                  text[k] == '\n'))
        ++k;
      if (k > start)
        tokens_.push_back(text.substr(start, k - start));
    }
  }

  bool empty() const { return tokens_.empty(); }
  std::string_view verb() const { return tokens_.front(); }
  std::string_view token(std::size_t i) const { return tokens_[i]; }
  std::size_t args() const { return tokens_.size() - 1; }
  const std::string& error() const { return error_; }

  /// Checks the argument count; `max` is the count with every optional argument.
  bool arity(std::size_t min, std::size_t max, std::string_view usage) { return arity({min, max}, usage); }

  /// The argument count is one of `counts` (ascending).
  bool arity(std::initializer_list<std::size_t> counts, std::string_view usage) {
    if (std::find(counts.begin(), counts.end(), args()) != counts.end())
      return true;
    std::string allowed;
    std::size_t k = 0, last = ~std::size_t{0};
    for (const std::size_t n : counts) {
      if (n == last)
        continue; // arity(7, 7)
      if (k > 0)
        allowed += k + 1 == counts.size() ? " or " : ", ";
      allowed += std::to_string(n);
      last = n;
      ++k;
    }
    error_ = "'" + std::string(verb()) + "' takes " + allowed + " arguments (" + std::string(usage) + "), got " +
             std::to_string(args());
    return false;
  }

  bool number(std::size_t arg, std::string_view name, float& out) {
    const std::string_view tok = tokens_[arg];
    const char* first = tok.data();
    const char* last = tok.data() + tok.size();
    if (first != last && *first == '+')
      ++first; // from_chars refuses a leading '+'; people write it
    const auto r = std::from_chars(first, last, out);
    if (r.ec == std::errc::result_out_of_range)
      return fail(arg, name, "a number within float range");
    if (r.ec != std::errc() || r.ptr != last || first == last)
      return fail(arg, name, "a number");
    return true;
  }

  bool vec(std::size_t arg, std::string_view name, Vec3& out) {
    const std::string n(name);
    return number(arg, n + ".x", out.x) && number(arg + 1, n + ".y", out.y) &&
           number(arg + 2, n + ".z", out.z);
  }

  template <class Unsigned>
  bool integer(std::size_t arg, std::string_view name, Unsigned& out, int base = 10) {
    std::string_view tok = tokens_[arg];
    if (base == 16 && tok.size() > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X'))
      tok.remove_prefix(2);
    const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), out, base);
    if (r.ec == std::errc::result_out_of_range)
      return fail(arg, name,
                  base == 16 ? "a 32-bit hex value"
                             : (sizeof(Unsigned) == 8 ? "an integer below 2^64" : "an integer below 2^32"));
    if (r.ec != std::errc() || r.ptr != tok.data() + tok.size() || tok.empty())
      return fail(arg, name,
                  base == 16 ? "a hex colour RRGGBBAA" : "a non-negative integer");
    return true;
  }

private:
  bool fail(std::size_t arg, std::string_view name, std::string_view expected) {
    error_ = "'" + std::string(verb()) + "' argument " + std::to_string(arg) + " (" +
             std::string(name) + "): expected " + std::string(expected) + ", got '" +
             std::string(tokens_[arg]) + "'";
    return false;
  }

  std::vector<std::string_view> tokens_;
  std::string error_;
};

constexpr std::string_view spawn_usage = "PX PY PZ VX VY VZ RADIUS [DENSITY RESTITUTION COLORHEX [USER_DATA]]";
constexpr std::string_view fountain_usage =
  "OX OY OZ VX VY VZ SPREAD RADIUS EVERY MAX";

} // namespace

bool apply(World& world, const Action& action) {
  return std::visit(
    Overloaded{
      [&](const SpawnBody& a) {
        if (!detail::valid_spec(a.spec))
          return false; // would break the invariants; a bad command does nothing
        spawn(world, a.spec);
        return true;
      },
      [&](const ApplyImpulse& a) {
        const auto d = find(world, a.body);
        if (!d || !is_finite(a.dv))
          return false;
        Body& b = world.bodies[*d];
        if (b.inv_mass > 0.f) // static bodies never move
          b.velocity += a.dv;
        return true;
      },
      [&](const Shake& a) {
        if (!is_finite(a.dv))
          return false;
        for (Body& b : world.bodies)
          if (b.inv_mass > 0.f)
            b.velocity += a.dv;
        return true;
      },
      [&](const RemoveBody& a) { return remove(world, a.body); },
      [&](const SetPaused& a) {
        world.paused = a.paused;
        return true;
      },
      [&](const SetGravity& a) {
        if (!is_finite(a.gravity))
          return false;
        world.gravity = a.gravity;
        return true;
      },
      [&](const LoadRules&) { return false; }, // logic's business, not the world's
      [&](const Rebalance&) { return false; }, // where regions cut space, not the world's
      [&](const SetFountain& a) { return detail::set_fountain(world, a.fountain); },
    },
    action);
}

namespace detail {

bool valid_spec(const BodySpec& spec) {
  return is_finite(spec.position) && is_finite(spec.velocity) && std::isfinite(spec.radius) &&
         spec.radius > 0.f && std::isfinite(spec.density) && spec.density >= 0.f &&
         std::isfinite(spec.restitution);
}

std::optional<BodySpec> fountain_spawn(const WorldSettings& settings, std::uint64_t tick,
                                       std::size_t alive, std::uint64_t& rng_state) {
  const Fountain& f = settings.fountain;
  if (f.every_ticks == 0 || tick % f.every_ticks != 0 || alive >= f.max_bodies)
    return std::nullopt;
  // Draw order is part of the determinism contract: x, z, vx, vy, vz, colour.
  BodySpec spec;
  const float spread = std::fabs(f.spread);
  spec.position = f.origin;
  if (spread > 0.f) {
    spec.position.x += random_float(rng_state, -spread, spread);
    spec.position.z += random_float(rng_state, -spread, spread);
  } else {
    next_random(rng_state);
    next_random(rng_state);
  }
  constexpr float jitter = 0.1f; // m/s, so a stream of bodies does not stack exactly
  spec.velocity = f.velocity + Vec3{random_float(rng_state, -jitter, jitter),
                                    random_float(rng_state, -jitter, jitter),
                                    random_float(rng_state, -jitter, jitter)};
  spec.radius = f.radius;
  spec.color = static_cast<std::uint32_t>(next_random(rng_state) >> 32) | 0xffu; // opaque
  return spec;
}

bool set_fountain(WorldSettings& settings, const Fountain& f) {
  if (!is_finite(f.origin) || !is_finite(f.velocity) || !std::isfinite(f.spread) ||
      !(std::isfinite(f.radius) && f.radius > 0.f))
    return false;
  settings.fountain = f;
  return true;
}

bool left_arena(const Arena& a, const Body& b) {
  const Vec3 p = b.position;
  return !is_finite(p) || !is_finite(b.velocity) || !std::isfinite(b.radius) ||
         p.x < a.min.x || p.x > a.max.x || p.z < a.min.z || p.z > a.max.z ||
         p.y < a.min.y - b.radius || p.y > a.max.y;
}

} // namespace detail

void before_physics(World& world) {
  if (auto spec = detail::fountain_spawn(world, world.tick, world.size(), world.rng_state))
    spawn(world, *spec);
}

std::size_t after_physics(World& world) {
  // Most ticks nobody leaves: look first, mark only from the first one gone.
  const auto gone = [&](const Body& b) { return detail::left_arena(world.arena, b); };
  const auto first = std::find_if(world.bodies.begin(), world.bodies.end(), gone);
  if (first == world.bodies.end())
    return 0;
  std::vector<std::uint8_t> marked(world.size(), 0);
  for (auto k = static_cast<std::size_t>(first - world.bodies.begin()); k < world.size(); ++k)
    marked[k] = gone(world.bodies[k]) ? 1 : 0;
  return detail::remove_marked(world, marked);
}

std::string format_action(const Action& action) {
  std::string out;
  std::visit(Overloaded{
               [&](const SpawnBody& a) {
                 const BodySpec& s = a.spec;
                 const BodySpec defaults;
                 out = "spawn";
                 put(out, s.position);
                 put(out, s.velocity);
                 put(out, s.radius);
                 // The optional tail only when it differs, bit for bit.
                 if (std::bit_cast<std::uint32_t>(s.density) !=
                       std::bit_cast<std::uint32_t>(defaults.density) ||
                     std::bit_cast<std::uint32_t>(s.restitution) !=
                       std::bit_cast<std::uint32_t>(defaults.restitution) ||
                     s.color != defaults.color || s.user_data != defaults.user_data) {
                   put(out, s.density);
                   put(out, s.restitution);
                   put_hex(out, s.color);
                   if (s.user_data != defaults.user_data)
                     out += ' ' + std::to_string(s.user_data);
                 }
               },
               [&](const ApplyImpulse& a) {
                 out = "impulse";
                 put(out, a.body.index);
                 put(out, a.body.generation);
                 put(out, a.dv);
               },
               [&](const Shake& a) {
                 out = "shake";
                 put(out, a.dv);
               },
               [&](const RemoveBody& a) {
                 out = "remove";
                 put(out, a.body.index);
                 put(out, a.body.generation);
               },
               [&](const SetPaused& a) { out = a.paused ? "pause" : "resume"; },
               [&](const SetGravity& a) {
                 out = "gravity";
                 put(out, a.gravity);
               },
               [&](const SetFountain& a) {
                 const Fountain& f = a.fountain;
                 out = "fountain";
                 put(out, f.origin);
                 put(out, f.velocity);
                 put(out, f.spread);
                 put(out, f.radius);
                 put(out, f.every_ticks);
                 put(out, f.max_bodies);
               },
               [&](const LoadRules& a) { out = "reload " + a.path; },
               [&](const Rebalance& a) {
                 out = std::string("rebalance ") + "xyz"[a.axis % 3];
                 for (const float cut : a.cuts)
                   put(out, cut);
               },
             },
             action);
  return out;
}

std::optional<Action> parse_action(const std::string& text, std::string& error) {
  Reader in(text);
  if (in.empty()) {
    error = "empty action: expected one of spawn, impulse, shake, remove, pause, resume, "
            "gravity, fountain, reload, rebalance";
    return std::nullopt;
  }
  const std::string_view verb = in.verb();
  auto failed = [&]() -> std::optional<Action> {
    error = in.error();
    return std::nullopt;
  };
  if (verb == "spawn") {
    SpawnBody a;
    if (!in.arity({7, 10, 11}, spawn_usage) || !in.vec(1, "position", a.spec.position) ||
        !in.vec(4, "velocity", a.spec.velocity) || !in.number(7, "radius", a.spec.radius))
      return failed();
    if (in.args() >= 10 &&
        (!in.number(8, "density", a.spec.density) ||
         !in.number(9, "restitution", a.spec.restitution) ||
         !in.integer(10, "color", a.spec.color, 16)))
      return failed();
    if (in.args() == 11 && !in.integer(11, "user data", a.spec.user_data))
      return failed();
    return a;
  }
  if (verb == "impulse") {
    ApplyImpulse a;
    if (!in.arity(5, 5, "INDEX GENERATION DX DY DZ") || !in.integer(1, "index", a.body.index) ||
        !in.integer(2, "generation", a.body.generation) || !in.vec(3, "dv", a.dv))
      return failed();
    return a;
  }
  if (verb == "shake") {
    Shake a;
    if (!in.arity(3, 3, "DX DY DZ") || !in.vec(1, "dv", a.dv))
      return failed();
    return a;
  }
  if (verb == "remove") {
    RemoveBody a;
    if (!in.arity(2, 2, "INDEX GENERATION") || !in.integer(1, "index", a.body.index) ||
        !in.integer(2, "generation", a.body.generation))
      return failed();
    return a;
  }
  if (verb == "pause" || verb == "resume") {
    if (!in.arity(0, 0, "no arguments"))
      return failed();
    return SetPaused{verb == "pause"};
  }
  if (verb == "gravity") {
    SetGravity a;
    if (!in.arity(3, 3, "GX GY GZ") || !in.vec(1, "gravity", a.gravity))
      return failed();
    return a;
  }
  if (verb == "fountain") {
    SetFountain a;
    Fountain& f = a.fountain;
    if (!in.arity(10, 10, fountain_usage) || !in.vec(1, "origin", f.origin) ||
        !in.vec(4, "velocity", f.velocity) || !in.number(7, "spread", f.spread) ||
        !in.number(8, "radius", f.radius) || !in.integer(9, "every", f.every_ticks) ||
        !in.integer(10, "max", f.max_bodies))
      return failed();
    return a;
  }
  if (verb == "reload") {
    if (!in.arity(1, 1, "PATH"))
      return failed();
    return LoadRules{std::string(in.token(1))};
  }
  if (verb == "rebalance") {
    Rebalance a;
    constexpr std::size_t max_cuts = 1023; // 1024 regions along one axis
    if (in.args() < 1 || in.args() > 1 + max_cuts) {
      error = "'rebalance' takes an axis and up to " + std::to_string(max_cuts) + " cuts (x|y|z [CUT ...]), got " +
              std::to_string(in.args()) + " arguments";
      return std::nullopt;
    }
    const std::string_view axis = in.token(1);
    if (axis != "x" && axis != "y" && axis != "z") {
      error = "rebalance: the axis is x, y or z, got '" + std::string(axis) + "'";
      return std::nullopt;
    }
    a.axis = static_cast<std::uint8_t>(axis[0] - 'x');
    a.cuts.resize(in.args() - 1);
    for (std::size_t k = 0; k < a.cuts.size(); ++k)
      if (!in.number(k + 2, "cut", a.cuts[k]))
        return failed();
    for (std::size_t k = 0; k < a.cuts.size(); ++k)
      if (!std::isfinite(a.cuts[k]) || (k > 0 && !(a.cuts[k - 1] < a.cuts[k]))) {
        error = "rebalance: the cuts must be finite and ascend";
        return std::nullopt;
      }
    return a;
  }
  error = "unknown action '" + std::string(verb) +
          "': expected one of spawn, impulse, shake, remove, pause, resume, gravity, fountain, reload, rebalance";
  return std::nullopt;
}

} // namespace troupe::sim
