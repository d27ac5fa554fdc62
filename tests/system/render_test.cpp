// The render actor from outside: the real executable records PNG frames (on
// lavapipe, pinned), the tests read them back: not blank, spheres and arena
// where the camera says, the same images whatever node render runs on and
// whatever crashes, and the clear outcomes of a missing device.

#include "common/process.hpp"

#include <troupe/render/renderer.hpp>
#include <troupe/sim/scenario.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace troupe {
namespace {

using namespace troupe::testing;

/// Every troupe the tests start draws on the CPU driver, the same on any machine.
const std::string icd = "VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json ";
const std::string lavapipe = "env " + icd;

ProcessResult troupe_run(const std::string& config_path, const std::string& out, const std::string& args = "") {
  return run_command(lavapipe + exe + " run " + config_path + " --quiet --out " + out + " " + args);
}

std::string run_ok(const std::string& config_path, const std::string& out, const std::string& args = "") {
  auto r = troupe_run(config_path, out, args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return read_text(out + "/report.json");
}

/// The sandbox example, shortened, with its render made small and optional
/// keys replaced: `render_keys` are appended to [actors.render].
std::string sandbox_with(const std::string& dir, const std::string& render_keys) {
  auto text = read_text(examples + "sandbox.toml");
  // The timeline is relative to the example's folder.
  text = std::regex_replace(text, std::regex("timeline = \"sandbox.timeline\""),
                            "timeline = \"" + examples + "sandbox.timeline\"");
  const auto at = text.find("[actors.render]");
  text = text.substr(0, at) + "[actors.render]\nmailbox = { capacity = 8, overflow = \"latest\" }\n" + render_keys;
  const auto path = dir + "/sandbox-render.toml";
  std::ofstream(path) << text;
  return path;
}

std::vector<std::string> frame_names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    out.push_back(entry.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

render::Image load(const std::string& path) {
  auto image = render::read_png(path);
  if (!image) {
    ADD_FAILURE() << image.error().message;
    return {};
  }
  return std::move(*image);
}

std::array<int, 3> pixel(const render::Image& image, int x, int y) {
  const auto* p = &image.rgba[(static_cast<std::size_t>(y) * image.width + static_cast<std::size_t>(x)) * 4];
  return {p[0], p[1], p[2]};
}

TEST(RenderFrames, SandboxFramesShowSpheresAndArena) {
  const auto out = fresh_dir("render-sandbox");
  const auto json = run_ok(examples + "sandbox.toml", out, "--ticks 240");
  EXPECT_EQ(frame_names(out + "/frames"),
            (std::vector<std::string>{"frame-000060.png", "frame-000120.png", "frame-000180.png",
                                      "frame-000240.png"}));
  const auto image = load(out + "/frames/frame-000240.png");
  ASSERT_EQ(image.width, 1280u);
  ASSERT_EQ(image.height, 720u);
  // Spheres: many colours, and a good share of the image is not background.
  std::set<std::uint32_t> colours;
  std::size_t not_background = 0;
  const auto background = pixel(image, 0, 0);
  for (std::size_t i = 0; i < image.rgba.size(); i += 4) {
    colours.insert(image.rgba[i] << 16 | image.rgba[i + 1] << 8 | image.rgba[i + 2]);
    not_background += std::abs(image.rgba[i] - background[0]) + std::abs(image.rgba[i + 1] - background[1]) > 30;
  }
  EXPECT_GT(colours.size(), 500u);
  EXPECT_GT(not_background, image.rgba.size() / 4 / 20);
  // The arena: the middle of the box's top back edge is a bright line where the
  // camera projects it.
  const auto world = sim::make_scenario({"sandbox", 2000, 42, 60.0});
  const auto camera = render::fit_arena(world.arena, 1280.f / 720.f);
  const auto& a = world.arena;
  const auto left = render::project_to_pixel(camera, 1280, 720, {a.min.x, a.max.y, a.min.z});
  const auto right = render::project_to_pixel(camera, 1280, 720, {a.max.x, a.max.y, a.min.z});
  ASSERT_TRUE(left && right);
  const int x = static_cast<int>((left->first + right->first) / 2);
  const int y = static_cast<int>((left->second + right->second) / 2);
  int brightest = 0;
  for (int dy = -2; dy <= 2; ++dy) {
    const auto p = pixel(image, x, y + dy);
    brightest = std::max(brightest, p[0] + p[1] + p[2]);
  }
  EXPECT_GT(brightest, 3 * 150) << "no arena edge near pixel " << x << "," << y;
  // The report: frame times and snapshot ages, and what was recorded.
  EXPECT_GT(actor_value(json, "render", "frames_drawn"), 0);
  EXPECT_EQ(actor_value(json, "render", "frames_recorded"), 4);
  EXPECT_GT(report_actor(parse_report(json), "render")["distributions"]["frame_ms"].value("count", 0), 0);
  EXPECT_GT(report_actor(parse_report(json), "render")["distributions"]["snapshot_age_ms"].value("count", 0), 0);
  EXPECT_NE(read_text(out + "/report.html").find("frames/frame-000240.png"), std::string::npos);
}

TEST(RenderFrames, RenderOnASecondNodeRecordsTheSameImages) {
  const auto one = fresh_dir("render-one-node");
  const auto two = fresh_dir("render-two-nodes");
  const auto json_one = run_ok(examples + "sandbox.toml", one, "--ticks 180");
  const auto json_two = run_ok(examples + "sandbox-two-nodes.toml", two, "--ticks 180");
  EXPECT_EQ(report_hash(json_one), report_hash(json_two));
  expect_same_frames(one, two, 3);
}

TEST(RenderFrames, CrashesOfRenderLoseNoFrame) {
  const auto calm = fresh_dir("render-calm");
  const auto stormy = fresh_dir("render-chaos");
  const auto config = sandbox_with(calm, "width = 320\nheight = 180\nframes_every = 20\nmax_fps = 0\n");
  run_ok(config, calm, "--ticks 300");
  // Kill it once mid-run, and let it fail at random on top: each restart must
  // pick up the frames logic still holds for it.
  const auto json = run_ok(config, stormy, "--ticks 300 --kill render@150 --chaos render=0.02 --max-restarts 1000");
  EXPECT_GT(actor_value(json, "supervisor@main", "restarts_render"), 0);
  expect_same_frames(calm, stormy, 15);
}

TEST(RenderFrames, VideoIsPipedToFfmpegWhenItIsOnPath) {
  // A stand-in ffmpeg (first on PATH) keeps what troupe pipes to it and its
  // arguments, so the test needs no real encoder and checks every byte.
  const auto out = fresh_dir("render-video");
  const auto bin = out + "/bin";
  std::filesystem::create_directories(bin);
  const auto fake = bin + "/ffmpeg";
  std::ofstream(fake) << "#!/bin/sh\necho \"$@\" > \"" << out << "/ffmpeg-args\"\n"
                      << "for last; do :; done\ncat > \"$last\"\n";
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  const auto config = sandbox_with(out, "width = 64\nheight = 48\nframes_every = 30\nvideo_fps = 25\n");
  auto r = run_command("env PATH=" + bin + ":$PATH " + icd + exe + " run " + config + " --quiet --ticks 150 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::filesystem::file_size(out + "/run.mp4"), 5u * 64 * 48 * 4);
  const auto args = read_text(out + "/ffmpeg-args");
  EXPECT_NE(args.find("-f rawvideo -pix_fmt rgba -s 64x48 -r 25"), std::string::npos) << args;
  // The piped frames are the recorded ones, in order.
  std::ifstream video(out + "/run.mp4", std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(video)), {});
  const auto last = load(out + "/frames/frame-000150.png");
  EXPECT_TRUE(std::equal(last.rgba.begin(), last.rgba.end(), bytes.end() - static_cast<long>(last.rgba.size())));
  EXPECT_EQ(report_actor(parse_report(read_text(out + "/report.json")), "render")["notes"].value("video", ""), out + "/run.mp4");
}

TEST(RenderFaults, MissingDeviceWhenRequiredExitsWithTheReason) {
  const auto out = fresh_dir("render-no-device");
  const auto config = sandbox_with(out, "device = \"no-such-gpu\"\n");
  auto r = troupe_run(config, out, "--ticks 60");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("render cannot run: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no-such-gpu"), std::string::npos) << r.output;
}

TEST(RenderFaults, MissingDeviceWhenOptionalRunsOnWithoutRender) {
  const auto out = fresh_dir("render-optional");
  const auto config = sandbox_with(out, "device = \"no-such-gpu\"\nrequired = false\n");
  const auto json = run_ok(config, out, "--ticks 120");
  EXPECT_EQ(actor_value(json, "render", "disabled"), 1);
  EXPECT_EQ(actor_value(json, "logic", "ticks"), 120);
  EXPECT_FALSE(std::filesystem::exists(out + "/frames/frame-000060.png"));
}

TEST(RenderFaults, WindowWithoutARenderActorIsRefused) {
  const auto out = fresh_dir("render-window-none");
  auto r = run_command(exe + " run " + examples + "burst.toml --quiet --window --out " + out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--window"), std::string::npos) << r.output;
}

} // namespace
} // namespace troupe

// ---------------------------------------------------------------------------
// Window mode under a real X server (Xvfb): a screenshot of the screen shows the
// scene, and closing the window ends the run cleanly.

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/keysym.h>

#include <csignal>
#include <spawn.h>
#include <unistd.h>

extern char** environ;

namespace troupe {
namespace {

/// An Xvfb server of our own; it reports its display number when it is ready
/// (-displayfd), so nothing waits on a clock.
class Xvfb {
public:
  Xvfb() {
    int fds[2];
    if (::pipe(fds) != 0)
      return;
    const auto fd = std::to_string(fds[1]);
    std::vector<std::string> args{"Xvfb", "-displayfd", fd, "-screen", "0", "800x600x24", "-br", "-nolisten", "tcp"};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawnp(&pid_, "Xvfb", nullptr, nullptr, argv.data(), environ) != 0)
      pid_ = -1;
    ::close(fds[1]);
    char buf[32] = {};
    const auto n = ::read(fds[0], buf, sizeof buf - 1);
    ::close(fds[0]);
    if (pid_ > 0 && n > 0)
      display_ = ":" + std::to_string(std::atoi(buf));
  }
  ~Xvfb() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  const std::string& display() const { return display_; }

private:
  pid_t pid_ = -1;
  std::string display_;
};

/// The top-level window whose title is `title`, or 0.
Window find_window(Display* x, const std::string& title) {
  Window root = 0, parent = 0, *children = nullptr;
  unsigned count = 0;
  Window found = 0;
  if (XQueryTree(x, DefaultRootWindow(x), &root, &parent, &children, &count)) {
    for (unsigned i = 0; i < count && !found; ++i) {
      // GLFW writes WM_NAME as UTF8_STRING, which XFetchName does not read.
      XTextProperty name{};
      if (XGetWMName(x, children[i], &name) && name.value) {
        if (title == std::string(reinterpret_cast<char*>(name.value), name.nitems))
          found = children[i];
        XFree(name.value);
      }
    }
    XFree(children);
  }
  return found;
}

TEST(RenderWindow, WindowShowsTheSceneAndClosingItEndsTheRun) {
  Xvfb server;
  ASSERT_FALSE(server.display().empty()) << "Xvfb did not start";
  const auto out = fresh_dir("render-window");
  // Realtime and long: the run is still going when the window is closed.
  const auto command = "env DISPLAY=" + server.display() + " " + icd + exe + " run " + examples +
                       "sandbox.toml --quiet --realtime --ticks 1200 --window --out " + out + " 2>&1";
  FILE* troupe = ::popen(command.c_str(), "r");
  ASSERT_NE(troupe, nullptr);
  std::string output;
  char line[1024];
  bool shown = false;
  while (!shown && std::fgets(line, sizeof line, troupe)) {
    output += line;
    shown = std::string(line).find("window open, first frame shown") != std::string::npos;
  }
  ASSERT_TRUE(shown) << output;

  Display* x = XOpenDisplay(server.display().c_str());
  ASSERT_NE(x, nullptr);
  // Xlib's default handler exits on an error (a window already gone): report instead.
  XSetErrorHandler([](Display*, XErrorEvent* e) {
    ADD_FAILURE() << "X error " << int(e->error_code) << " in request " << int(e->request_code);
    return 0;
  });
  const auto window = find_window(x, "troupe: render");
  ASSERT_NE(window, 0u) << "no window named \"troupe: render\"";
  // The screenshot: the whole screen, as the X server has it.
  XImage* shot = XGetImage(x, DefaultRootWindow(x), 0, 0, 800, 600, AllPlanes, ZPixmap);
  ASSERT_NE(shot, nullptr);
  std::set<unsigned long> colours;
  for (int py = 0; py < 600; py += 2)
    for (int px = 0; px < 800; px += 2)
      colours.insert(XGetPixel(shot, px, py));
  XDestroyImage(shot);
  EXPECT_GT(colours.size(), 200u) << "the screen is blank or uniform";

  // A key: S spawns a ball. It becomes a command like the timeline's; input
  // says when logic applied it.
  for (int type : {KeyPress, KeyRelease}) {
    XEvent key{};
    key.xkey.type = type;
    key.xkey.display = x;
    key.xkey.window = window;
    key.xkey.root = DefaultRootWindow(x);
    key.xkey.same_screen = True;
    key.xkey.keycode = XKeysymToKeycode(x, XK_s);
    XSendEvent(x, window, True, type == KeyPress ? KeyPressMask : KeyReleaseMask, &key);
  }
  XFlush(x);
  bool applied = false;
  while (!applied && std::fgets(line, sizeof line, troupe)) {
    output += line;
    applied = std::string(line).find("input: live command applied at tick") != std::string::npos;
  }
  EXPECT_TRUE(applied) << output;

  // The close button: the window manager's WM_DELETE_WINDOW message.
  XEvent close{};
  close.xclient.type = ClientMessage;
  close.xclient.window = window;
  close.xclient.message_type = XInternAtom(x, "WM_PROTOCOLS", False);
  close.xclient.format = 32;
  close.xclient.data.l[0] = static_cast<long>(XInternAtom(x, "WM_DELETE_WINDOW", False));
  close.xclient.data.l[1] = CurrentTime;
  XSendEvent(x, window, False, NoEventMask, &close);
  XFlush(x);
  while (std::fgets(line, sizeof line, troupe))
    output += line;
  const int status = ::pclose(troupe);
  XCloseDisplay(x);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_NE(output.find("window closed; ending the run"), std::string::npos) << output;
  const auto json = read_text(out + "/report.json");
  const auto ticks = actor_value(json, "logic", "ticks");
  EXPECT_LT(ticks, 1200);
  EXPECT_GT(ticks, 0);
  EXPECT_EQ(actor_value(json, "input", "live_commands"), 1);
  // The key is in the command log: replaying it gives the window run's world.
  EXPECT_NE(read_text(out + "/commands.log").find(" spawn "), std::string::npos);
  const auto replay_out = fresh_dir("render-window-replay");
  auto replay = run_command(lavapipe + exe + " replay " + out + "/commands.log --quiet --ticks " +
                            std::to_string(static_cast<long>(ticks)) + " --out " + replay_out);
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_EQ(report_hash(read_text(replay_out + "/report.json")), report_hash(json));
}

TEST(RenderWindow, WindowWithoutADisplayIsAClearError) {
  const auto out = fresh_dir("render-window-no-display");
  auto r = run_command("env -u DISPLAY -u WAYLAND_DISPLAY " + icd + exe + " run " + examples +
                       "sandbox.toml --quiet --ticks 60 --window --out " + out);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("there is no display"), std::string::npos) << r.output;
}

} // namespace
} // namespace troupe
