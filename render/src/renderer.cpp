// The only TU that includes vulkan_raii.hpp (11-13 s to compile): keep Vulkan here.
//
// Error policy: Vulkan-Hpp's raii layer throws vk::SystemError for failed calls;
// the few calls that hand back a vk::Result (success codes other than eSuccess are
// possible there) go through `check`. Both are turned into `Error` words in `guard`
// at the public API boundary, so no exception leaves this file.
#include "camera_math.hpp"
#include "shaders.hpp"

#include <troupe/render/renderer.hpp>

#include <vulkan/vulkan_raii.hpp>

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>

namespace troupe::render {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

/// A failure with words, thrown inside this file and caught by `guard`.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The one checking helper for vk::Result values the raii layer hands back.
void check(vk::Result result, const char* what) {
  if (result != vk::Result::eSuccess) {
    throw Failure(std::string(what) + ": " + vk::to_string(result));
  }
}

/// Runs `body` and turns any exception into an `Error` prefixed with `where`.
template <class F>
auto guard(const char* where, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const vk::SystemError& e) {
    return Error{errc::device_failed, std::string(where) + ": Vulkan call failed: " + e.what()};
  } catch (const std::exception& e) {
    return Error{errc::device_failed, std::string(where) + ": " + e.what()};
  } catch (...) {
    return Error{errc::device_failed, std::string(where) + ": unknown exception"};
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::array<float, 4> unpack_rgba(std::uint32_t c) {
  return {static_cast<float>((c >> 24) & 0xffu) / 255.f,
          static_cast<float>((c >> 16) & 0xffu) / 255.f,
          static_cast<float>((c >> 8) & 0xffu) / 255.f,
          static_cast<float>(c & 0xffu) / 255.f};
}

/// One sphere as the vertex stage reads it (binding 0, per instance).
struct SphereInstance {
  float x, y, z, radius; // 16 B: location 0, R32G32B32A32_SFLOAT
  std::uint32_t color;   //  4 B: location 1, R32_UINT, 0xRRGGBBAA
};
static_assert(sizeof(SphereInstance) == 20, "instance stride is 20 bytes");

/// Push constants of both sphere pipelines (shaders/sphere_push.glsl).
struct SpherePush {
  glm::mat4 view;
  glm::vec4 proj;     // P00, P11, P22, P32 of the projection
  glm::vec4 viewport; // width, height, max point size, 0
  glm::vec4 ray;      // view ray through a pixel: (xy * ray.xy + ray.zw, -1)
  glm::vec4 light;    // unit direction towards the light, view space
};
static_assert(sizeof(SpherePush) == 128, "the guaranteed push-constant limit");

/// Towards the light, world space: from above, the front and the right.
constexpr glm::vec3 light_direction{0.35f, 1.f, 0.55f};

/// Push constants of the floor and edge pipelines (128 B).
struct ArenaPush {
  glm::mat4 view_proj;
  glm::vec4 box_min;
  glm::vec4 box_max;
  glm::vec4 color;
  glm::vec4 params; // x: 0 floor, 1 edges; y: checker cell (m)
};
static_assert(sizeof(ArenaPush) == 128);

constexpr std::uint32_t floor_color = 0x5c626bffu;
constexpr std::uint32_t edge_color = 0xd0d4daffu;
/// The four pipelines; they differ in shaders, topology and vertex input only.
enum class Pass { floor, edges, sphere_points, sphere_quads };

/// A point sprite is used only up to this share of the device's point-size limit and
/// with its centre this far inside the view, so that the GPU's own computation
/// (sphere_point.vert) never meets the limit or the clip edge.
constexpr float point_size_margin = 0.75f;
constexpr float point_centre_limit = 0.98f;

constexpr std::uint64_t fence_timeout_ns = 30'000'000'000ull; // lavapipe at 100k+: slow

struct Candidate {
  vk::raii::PhysicalDevice device;
  std::string name;
  vk::PhysicalDeviceType type;
  std::uint32_t queue_family;
};

/// See Settings::tune_allocator. lavapipe mallocs and frees its vertex and bin
/// storage every frame; with glibc's defaults the freed top of the heap is trimmed
/// and the next frame page-faults it back in (a third of the frame at 100k spheres,
/// more in a VM where faults are dear).
void tune_allocator_for_cpu_driver() {
#if defined(__GLIBC__)
  static const bool once = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's ceiling for this knob on 64-bit
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    return true;
  }();
  (void)once;
#endif
}

/// Lower is better for "auto" and "gpu".
int rank(vk::PhysicalDeviceType type) {
  switch (type) {
  case vk::PhysicalDeviceType::eDiscreteGpu: return 0;
  case vk::PhysicalDeviceType::eIntegratedGpu: return 1;
  case vk::PhysicalDeviceType::eVirtualGpu: return 2;
  case vk::PhysicalDeviceType::eOther: return 3;
  case vk::PhysicalDeviceType::eCpu: return 4;
  }
  return 5;
}

struct Allocation {
  vk::raii::DeviceMemory memory{nullptr};
  bool coherent = false;
};

/// An image with its memory and a view.
struct Target {
  vk::raii::Image image{nullptr};
  vk::raii::DeviceMemory memory{nullptr};
  vk::raii::ImageView view{nullptr};
};

/// A persistently mapped host-visible buffer.
struct HostBuffer {
  vk::raii::Buffer buffer{nullptr};
  vk::raii::DeviceMemory memory{nullptr};
  void* mapped = nullptr;
  vk::DeviceSize size = 0;
  bool coherent = false;
};

/// glfwInit / glfwTerminate for every window this process opens (GLFW's state
/// is process-wide), and the last GLFW error in words.
class GlfwSession {
public:
  GlfwSession() {
    std::lock_guard<std::mutex> guard{mutex()};
    glfwSetErrorCallback([](int, const char* text) { last_error() = text ? text : "unknown"; });
    if (users()++ == 0 && glfwInit() != GLFW_TRUE) {
      --users();
      throw Failure("a window was asked for but there is no display (GLFW: " + last_error() +
                    "); set DISPLAY, run under Xvfb, or render offscreen");
    }
  }
  ~GlfwSession() {
    std::lock_guard<std::mutex> guard{mutex()};
    if (--users() == 0)
      glfwTerminate();
  }
  GlfwSession(const GlfwSession&) = delete;
  GlfwSession& operator=(const GlfwSession&) = delete;
  static std::string& last_error() {
    static std::string text;
    return text;
  }

private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static int& users() {
    static int n = 0;
    return n;
  }
};

/// A GLFW window with no client API (Vulkan draws into it) and the input it
/// collected since it was last asked.
struct Window {
  std::unique_ptr<GlfwSession> session;
  GLFWwindow* handle = nullptr;
  WindowInput input;
  bool dragging = false;
  double last_x = 0, last_y = 0;

  Window() = default;
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;
  ~Window() {
    if (handle)
      glfwDestroyWindow(handle);
  }

  void open(std::uint32_t width, std::uint32_t height, const std::string& title) {
    session = std::make_unique<GlfwSession>();
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    glfwWindowHint(GLFW_RESIZABLE, GLFW_TRUE);
    handle = glfwCreateWindow(static_cast<int>(width), static_cast<int>(height), title.c_str(), nullptr, nullptr);
    if (!handle)
      throw Failure("cannot open a window: " + GlfwSession::last_error());
    glfwSetWindowUserPointer(handle, this);
    glfwSetKeyCallback(handle, [](GLFWwindow* w, int key, int, int action, int) {
      auto& self = *static_cast<Window*>(glfwGetWindowUserPointer(w));
      if (action != GLFW_PRESS)
        return;
      if (key == GLFW_KEY_ESCAPE)
        self.input.close = true;
      else if (key == GLFW_KEY_SPACE)
        self.input.toggle_pause = !self.input.toggle_pause;
      else if (key == GLFW_KEY_S)
        ++self.input.spawns;
    });
    glfwSetMouseButtonCallback(handle, [](GLFWwindow* w, int button, int action, int) {
      auto& self = *static_cast<Window*>(glfwGetWindowUserPointer(w));
      if (button == GLFW_MOUSE_BUTTON_LEFT) {
        self.dragging = action == GLFW_PRESS;
        glfwGetCursorPos(w, &self.last_x, &self.last_y);
      }
    });
    glfwSetCursorPosCallback(handle, [](GLFWwindow* w, double x, double y) {
      auto& self = *static_cast<Window*>(glfwGetWindowUserPointer(w));
      if (self.dragging) {
        self.input.drag_x += static_cast<float>(x - self.last_x);
        self.input.drag_y += static_cast<float>(y - self.last_y);
      }
      self.last_x = x;
      self.last_y = y;
    });
    glfwSetScrollCallback(handle, [](GLFWwindow* w, double, double dy) {
      static_cast<Window*>(glfwGetWindowUserPointer(w))->input.scroll += static_cast<float>(dy);
    });
  }

  WindowInput take() {
    glfwPollEvents();
    if (glfwWindowShouldClose(handle))
      input.close = true;
    return std::exchange(input, WindowInput{});
  }
};

} // namespace

struct Renderer::Impl {
  Settings settings;
  Camera camera;
  std::string device_name;
  std::vector<std::uint8_t> pixels;
  // This frame's matrices and how the spheres were split between the two paths.
  glm::mat4 view{1.f};
  glm::mat4 proj{1.f};
  std::uint32_t point_count = 0;
  std::uint32_t quad_count = 0;
  std::vector<std::uint32_t> quad_bodies; // scratch: indices of bodies drawn as quads

  // Declaration order is destruction order reversed: the window and the
  // context go last, the swapchain before the surface before the instance.
  Window window;
  vk::raii::Context context;
  vk::raii::Instance instance{nullptr};
  vk::raii::SurfaceKHR surface{nullptr};
  vk::raii::PhysicalDevice physical{nullptr};
  vk::PhysicalDeviceMemoryProperties memory_props;
  std::uint32_t queue_family = 0;
  vk::raii::Device device{nullptr};
  vk::raii::Queue queue{nullptr};
  vk::raii::CommandPool pool{nullptr};
  vk::raii::CommandBuffer cmd{nullptr};
  vk::raii::Fence fence{nullptr};
  vk::Format depth_format = vk::Format::eUndefined;
  float max_point_size = 0; // 0: no point path (device without largePoints)
  Target color;
  Target depth;
  HostBuffer readback;
  HostBuffer instances;
  vk::raii::PipelineLayout sphere_layout{nullptr};
  vk::raii::PipelineLayout arena_layout{nullptr};
  vk::raii::Pipeline point_pipeline{nullptr};
  vk::raii::Pipeline quad_pipeline{nullptr};
  vk::raii::Pipeline floor_pipeline{nullptr};
  vk::raii::Pipeline edge_pipeline{nullptr};
  // Window mode: the swapchain the offscreen image is blitted into.
  vk::raii::SwapchainKHR swapchain{nullptr};
  std::vector<vk::Image> swap_images;
  vk::Extent2D swap_extent{0, 0};
  vk::raii::CommandBuffer present_cmd{nullptr};
  vk::raii::Semaphore acquired{nullptr};
  vk::raii::Semaphore blitted{nullptr};
  vk::raii::Fence present_fence{nullptr};
  bool drawn = false; // a frame is in `color`, ready to present

  ~Impl() {
    if (*device) {
      try {
        device.waitIdle();
      } catch (...) { // a lost device cannot be waited on; destroy anyway
      }
    }
  }

  void init(const Settings& s);
  void pick_device();
  std::uint32_t find_memory(std::uint32_t type_bits, vk::MemoryPropertyFlags wanted,
                            vk::MemoryPropertyFlags fallback) const;
  Target make_target(vk::Format format, vk::ImageUsageFlags usage, vk::ImageAspectFlags aspect);
  HostBuffer make_host_buffer(vk::DeviceSize size, vk::BufferUsageFlags usage);
  vk::raii::Pipeline make_pipeline(Pass pass);
  bool fits_point(const sim::Body& body) const;
  void upload(const sim::World& world);
  void record(const sim::World& world);
  void make_swapchain();
  void present_frame();
};

void Renderer::Impl::init(const Settings& s) {
  settings = s;
  if (s.camera) {
    camera = *s.camera;
  }
  if (s.width == 0 || s.height == 0 || s.width > 16384 || s.height > 16384) {
    throw Failure("image size " + std::to_string(s.width) + "x" + std::to_string(s.height) +
                  " is out of range (1..16384)");
  }
  const vk::ApplicationInfo app{.pApplicationName = "troupe",
                                .applicationVersion = 1,
                                .pEngineName = "troupe-render",
                                .engineVersion = 1,
                                .apiVersion = VK_API_VERSION_1_3};
  std::vector<const char*> extensions;
  if (s.window) {
    window.open(s.width, s.height, s.title);
    std::uint32_t count = 0;
    const char** names = glfwGetRequiredInstanceExtensions(&count);
    if (names == nullptr)
      throw Failure("the Vulkan driver cannot present to this display (GLFW: " + GlfwSession::last_error() + ")");
    extensions.assign(names, names + count);
  }
  const vk::InstanceCreateInfo instance_info{.pApplicationInfo = &app,
                                             .enabledExtensionCount = static_cast<std::uint32_t>(extensions.size()),
                                             .ppEnabledExtensionNames = extensions.data()};
  try {
    instance = vk::raii::Instance(context, instance_info);
  } catch (const vk::SystemError& e) {
    throw Failure(std::string("no usable Vulkan driver (is an ICD such as mesa-vulkan-drivers "
                              "installed, VK_ICD_FILENAMES right?): ") +
                  e.what());
  }
  if (s.window) {
    VkSurfaceKHR raw = VK_NULL_HANDLE;
    check(vk::Result(glfwCreateWindowSurface(static_cast<VkInstance>(*instance), window.handle, nullptr, &raw)),
          "creating the window surface");
    surface = vk::raii::SurfaceKHR(instance, raw);
  }
  pick_device();
  if (s.tune_allocator && physical.getProperties().deviceType == vk::PhysicalDeviceType::eCpu) {
    tune_allocator_for_cpu_driver();
  }

  const float priority = 1.f;
  const vk::DeviceQueueCreateInfo queue_info{
      .queueFamilyIndex = queue_family, .queueCount = 1, .pQueuePriorities = &priority};
  vk::PhysicalDeviceVulkan13Features features13{.synchronization2 = VK_TRUE,
                                                .dynamicRendering = VK_TRUE};
  // Point sprites larger than one pixel need largePoints; without it every sphere
  // takes the quad path.
  const bool large_points = physical.getFeatures().largePoints == VK_TRUE;
  const vk::PhysicalDeviceFeatures features{.largePoints = large_points ? VK_TRUE : VK_FALSE};
  max_point_size = large_points ? physical.getProperties().limits.pointSizeRange[1] : 0.f;
  const std::array<const char*, 1> swapchain_extension{VK_KHR_SWAPCHAIN_EXTENSION_NAME};
  const vk::DeviceCreateInfo device_info{.pNext = &features13,
                                         .queueCreateInfoCount = 1,
                                         .pQueueCreateInfos = &queue_info,
                                         .enabledExtensionCount = s.window ? 1u : 0u,
                                         .ppEnabledExtensionNames = swapchain_extension.data(),
                                         .pEnabledFeatures = &features};
  device = vk::raii::Device(physical, device_info);
  queue = device.getQueue(queue_family, 0);
  pool = vk::raii::CommandPool(
      device, vk::CommandPoolCreateInfo{.flags = vk::CommandPoolCreateFlagBits::eResetCommandBuffer,
                                        .queueFamilyIndex = queue_family});
  vk::raii::CommandBuffers buffers(device, vk::CommandBufferAllocateInfo{
                                               .commandPool = *pool,
                                               .level = vk::CommandBufferLevel::ePrimary,
                                               .commandBufferCount = 1});
  cmd = std::move(buffers.front());
  fence = vk::raii::Fence(device, vk::FenceCreateInfo{});

  for (vk::Format f : {vk::Format::eD32Sfloat, vk::Format::eX8D24UnormPack32,
                       vk::Format::eD16Unorm}) {
    if (physical.getFormatProperties(f).optimalTilingFeatures &
        vk::FormatFeatureFlagBits::eDepthStencilAttachment) {
      depth_format = f;
      break;
    }
  }
  if (depth_format == vk::Format::eUndefined) {
    throw Failure("device " + device_name + " has no depth attachment format");
  }
  color = make_target(vk::Format::eR8G8B8A8Unorm,
                      vk::ImageUsageFlagBits::eColorAttachment | vk::ImageUsageFlagBits::eTransferSrc,
                      vk::ImageAspectFlagBits::eColor);
  depth = make_target(depth_format, vk::ImageUsageFlagBits::eDepthStencilAttachment,
                      vk::ImageAspectFlagBits::eDepth);
  readback = make_host_buffer(vk::DeviceSize{s.width} * s.height * 4,
                              vk::BufferUsageFlagBits::eTransferDst);

  const auto stages = vk::ShaderStageFlagBits::eVertex | vk::ShaderStageFlagBits::eFragment;
  const vk::PushConstantRange sphere_range{.stageFlags = stages, .offset = 0,
                                           .size = sizeof(SpherePush)};
  sphere_layout = vk::raii::PipelineLayout(
      device, vk::PipelineLayoutCreateInfo{.pushConstantRangeCount = 1,
                                           .pPushConstantRanges = &sphere_range});
  const vk::PushConstantRange arena_range{.stageFlags = stages, .offset = 0,
                                          .size = sizeof(ArenaPush)};
  arena_layout = vk::raii::PipelineLayout(
      device, vk::PipelineLayoutCreateInfo{.pushConstantRangeCount = 1,
                                           .pPushConstantRanges = &arena_range});
  point_pipeline = make_pipeline(Pass::sphere_points);
  quad_pipeline = make_pipeline(Pass::sphere_quads);
  floor_pipeline = make_pipeline(Pass::floor);
  edge_pipeline = make_pipeline(Pass::edges);
  if (s.window) {
    vk::raii::CommandBuffers more(device, vk::CommandBufferAllocateInfo{
                                              .commandPool = *pool,
                                              .level = vk::CommandBufferLevel::ePrimary,
                                              .commandBufferCount = 1});
    present_cmd = std::move(more.front());
    acquired = vk::raii::Semaphore(device, vk::SemaphoreCreateInfo{});
    blitted = vk::raii::Semaphore(device, vk::SemaphoreCreateInfo{});
    present_fence = vk::raii::Fence(device, vk::FenceCreateInfo{});
    make_swapchain();
  }
}

void Renderer::Impl::make_swapchain() {
  int w = 0, h = 0;
  glfwGetFramebufferSize(window.handle, &w, &h);
  if (w <= 0 || h <= 0) {
    swap_extent = vk::Extent2D{0, 0}; // minimised: nothing to present into
    return;
  }
  device.waitIdle();
  const auto caps = physical.getSurfaceCapabilitiesKHR(*surface);
  if (!(caps.supportedUsageFlags & vk::ImageUsageFlagBits::eTransferDst))
    throw Failure("the window's surface cannot be a blit destination on " + device_name);
  const auto formats = physical.getSurfaceFormatsKHR(*surface);
  if (formats.empty())
    throw Failure("the window's surface offers no formats on " + device_name);
  // UNORM like the offscreen image, so the window shows the recorded pixels.
  vk::SurfaceFormatKHR format = formats.front();
  for (const auto& f : formats)
    if (f.format == vk::Format::eB8G8R8A8Unorm || f.format == vk::Format::eR8G8B8A8Unorm)
      format = f;
  if (!(physical.getFormatProperties(format.format).optimalTilingFeatures & vk::FormatFeatureFlagBits::eBlitDst))
    throw Failure("cannot blit into the window's format " + vk::to_string(format.format));
  vk::Extent2D extent = caps.currentExtent;
  if (extent.width == std::numeric_limits<std::uint32_t>::max()) {
    extent.width = std::clamp(static_cast<std::uint32_t>(w), caps.minImageExtent.width, caps.maxImageExtent.width);
    extent.height = std::clamp(static_cast<std::uint32_t>(h), caps.minImageExtent.height, caps.maxImageExtent.height);
  }
  std::uint32_t images = caps.minImageCount + 1;
  if (caps.maxImageCount > 0)
    images = std::min(images, caps.maxImageCount);
  vk::CompositeAlphaFlagBitsKHR alpha = vk::CompositeAlphaFlagBitsKHR::eOpaque;
  for (auto candidate : {vk::CompositeAlphaFlagBitsKHR::eOpaque, vk::CompositeAlphaFlagBitsKHR::eInherit,
                         vk::CompositeAlphaFlagBitsKHR::ePreMultiplied, vk::CompositeAlphaFlagBitsKHR::ePostMultiplied})
    if (caps.supportedCompositeAlpha & candidate) {
      alpha = candidate;
      break;
    }
  swapchain = vk::raii::SwapchainKHR(
      device, vk::SwapchainCreateInfoKHR{.surface = *surface,
                                         .minImageCount = images,
                                         .imageFormat = format.format,
                                         .imageColorSpace = format.colorSpace,
                                         .imageExtent = extent,
                                         .imageArrayLayers = 1,
                                         .imageUsage = vk::ImageUsageFlagBits::eTransferDst,
                                         .imageSharingMode = vk::SharingMode::eExclusive,
                                         .preTransform = caps.currentTransform,
                                         .compositeAlpha = alpha,
                                         .presentMode = vk::PresentModeKHR::eFifo, // always there
                                         .clipped = VK_TRUE,
                                         .oldSwapchain = *swapchain});
  swap_images = swapchain.getImages();
  swap_extent = extent;
}

/// Blits the last frame (left in TransferSrcOptimal by `record`) into the next
/// swapchain image and presents it; remakes the swapchain when the window
/// changed size or the surface says it is out of date.
void Renderer::Impl::present_frame() {
  int w = 0, h = 0;
  glfwGetFramebufferSize(window.handle, &w, &h);
  if (static_cast<std::uint32_t>(w) != swap_extent.width || static_cast<std::uint32_t>(h) != swap_extent.height)
    make_swapchain();
  if (swap_extent.width == 0 || !drawn)
    return;
  std::uint32_t index = 0;
  try {
    auto [result, i] = swapchain.acquireNextImage(fence_timeout_ns, *acquired);
    if (result == vk::Result::eTimeout || result == vk::Result::eNotReady)
      return;
    index = i;
  } catch (const vk::OutOfDateKHRError&) {
    make_swapchain();
    return;
  }
  using S = vk::PipelineStageFlagBits2;
  using A = vk::AccessFlagBits2;
  const vk::ImageSubresourceRange range{vk::ImageAspectFlagBits::eColor, 0, 1, 0, 1};
  present_cmd.reset();
  present_cmd.begin(vk::CommandBufferBeginInfo{.flags = vk::CommandBufferUsageFlagBits::eOneTimeSubmit});
  const vk::ImageMemoryBarrier2 to_dst{.srcStageMask = S::eTransfer,
                                       .srcAccessMask = A::eNone,
                                       .dstStageMask = S::eTransfer,
                                       .dstAccessMask = A::eTransferWrite,
                                       .oldLayout = vk::ImageLayout::eUndefined,
                                       .newLayout = vk::ImageLayout::eTransferDstOptimal,
                                       .image = swap_images[index],
                                       .subresourceRange = range};
  present_cmd.pipelineBarrier2(vk::DependencyInfo{.imageMemoryBarrierCount = 1, .pImageMemoryBarriers = &to_dst});
  const vk::ImageSubresourceLayers layers{vk::ImageAspectFlagBits::eColor, 0, 0, 1};
  const vk::ImageBlit blit{
      .srcSubresource = layers,
      .srcOffsets = std::array{vk::Offset3D{0, 0, 0}, vk::Offset3D{static_cast<std::int32_t>(settings.width),
                                                                   static_cast<std::int32_t>(settings.height), 1}},
      .dstSubresource = layers,
      .dstOffsets = std::array{vk::Offset3D{0, 0, 0}, vk::Offset3D{static_cast<std::int32_t>(swap_extent.width),
                                                                   static_cast<std::int32_t>(swap_extent.height), 1}}};
  present_cmd.blitImage(*color.image, vk::ImageLayout::eTransferSrcOptimal, swap_images[index],
                        vk::ImageLayout::eTransferDstOptimal, blit, vk::Filter::eLinear);
  const vk::ImageMemoryBarrier2 to_present{.srcStageMask = S::eTransfer,
                                           .srcAccessMask = A::eTransferWrite,
                                           .dstStageMask = S::eBottomOfPipe,
                                           .dstAccessMask = A::eNone,
                                           .oldLayout = vk::ImageLayout::eTransferDstOptimal,
                                           .newLayout = vk::ImageLayout::ePresentSrcKHR,
                                           .image = swap_images[index],
                                           .subresourceRange = range};
  present_cmd.pipelineBarrier2(vk::DependencyInfo{.imageMemoryBarrierCount = 1, .pImageMemoryBarriers = &to_present});
  present_cmd.end();
  const vk::PipelineStageFlags wait_stage = vk::PipelineStageFlagBits::eTransfer;
  queue.submit(vk::SubmitInfo{.waitSemaphoreCount = 1,
                              .pWaitSemaphores = &*acquired,
                              .pWaitDstStageMask = &wait_stage,
                              .commandBufferCount = 1,
                              .pCommandBuffers = &*present_cmd,
                              .signalSemaphoreCount = 1,
                              .pSignalSemaphores = &*blitted},
               *present_fence);
  try {
    const auto result = queue.presentKHR(vk::PresentInfoKHR{.waitSemaphoreCount = 1,
                                                            .pWaitSemaphores = &*blitted,
                                                            .swapchainCount = 1,
                                                            .pSwapchains = &*swapchain,
                                                            .pImageIndices = &index});
    check(device.waitForFences(*present_fence, VK_TRUE, fence_timeout_ns), "waiting for the window's frame");
    device.resetFences(*present_fence);
    if (result == vk::Result::eSuboptimalKHR)
      make_swapchain();
  } catch (const vk::OutOfDateKHRError&) {
    check(device.waitForFences(*present_fence, VK_TRUE, fence_timeout_ns), "waiting for the window's frame");
    device.resetFences(*present_fence);
    make_swapchain();
  }
}

void Renderer::Impl::pick_device() {
  std::vector<Candidate> candidates;
  std::string seen; // every device with why it was skipped, for the error message
  for (auto& pd : instance.enumeratePhysicalDevices()) {
    const auto props = pd.getProperties();
    const std::string name = props.deviceName.data();
    const auto chain = pd.getFeatures2<vk::PhysicalDeviceFeatures2,
                                       vk::PhysicalDeviceVulkan13Features>();
    const auto& f13 = chain.get<vk::PhysicalDeviceVulkan13Features>();
    std::string note;
    std::optional<std::uint32_t> family;
    const auto families = pd.getQueueFamilyProperties();
    for (std::uint32_t i = 0; i < families.size(); ++i) {
      if ((families[i].queueFlags & vk::QueueFlagBits::eGraphics) &&
          (!settings.window || pd.getSurfaceSupportKHR(i, *surface))) {
        family = i;
        break;
      }
    }
    if (props.apiVersion < VK_API_VERSION_1_3) {
      note = "Vulkan " + std::to_string(VK_API_VERSION_MAJOR(props.apiVersion)) + "." +
             std::to_string(VK_API_VERSION_MINOR(props.apiVersion)) + " < 1.3";
    } else if (!f13.dynamicRendering || !f13.synchronization2) {
      note = "no dynamic rendering / synchronization2";
    } else if (!family) {
      note = settings.window ? "no graphics queue that presents to the window" : "no graphics queue";
    } else {
      note = vk::to_string(props.deviceType);
      candidates.push_back(Candidate{std::move(pd), name, props.deviceType, *family});
    }
    seen += (seen.empty() ? "" : "; ") + name + " (" + note + ")";
  }
  if (seen.empty()) {
    throw Failure("the Vulkan driver reports no devices");
  }

  const std::string want = lower(settings.device);
  auto is_cpu = [](const Candidate& c) { return c.type == vk::PhysicalDeviceType::eCpu; };
  std::vector<Candidate*> matches;
  for (auto& c : candidates) {
    const bool match =
        want == "auto" || (want == "gpu" && !is_cpu(c)) ||
        (want == "lavapipe" && (is_cpu(c) || lower(c.name).find("llvmpipe") != std::string::npos)) ||
        (want != "auto" && want != "gpu" && want != "lavapipe" &&
         lower(c.name).find(want) != std::string::npos);
    if (match) {
      matches.push_back(&c);
    }
  }
  if (matches.empty()) {
    throw Failure("no Vulkan device matches \"" + settings.device + "\"; devices: " + seen);
  }
  // Stable: equal ranks keep the driver's order.
  std::stable_sort(matches.begin(), matches.end(),
                   [](const Candidate* a, const Candidate* b) { return rank(a->type) < rank(b->type); });
  Candidate& chosen = *matches.front();
  physical = std::move(chosen.device);
  device_name = chosen.name;
  queue_family = chosen.queue_family;
  memory_props = physical.getMemoryProperties();
}

std::uint32_t Renderer::Impl::find_memory(std::uint32_t type_bits, vk::MemoryPropertyFlags wanted,
                                          vk::MemoryPropertyFlags fallback) const {
  for (auto flags : {wanted, fallback}) {
    for (std::uint32_t i = 0; i < memory_props.memoryTypeCount; ++i) {
      if ((type_bits & (1u << i)) && (memory_props.memoryTypes[i].propertyFlags & flags) == flags) {
        return i;
      }
    }
  }
  throw Failure("no suitable memory type (wanted " + vk::to_string(wanted) + ")");
}

Target Renderer::Impl::make_target(vk::Format format, vk::ImageUsageFlags usage,
                                   vk::ImageAspectFlags aspect) {
  Target t;
  t.image = vk::raii::Image(
      device, vk::ImageCreateInfo{.imageType = vk::ImageType::e2D,
                                  .format = format,
                                  .extent = {settings.width, settings.height, 1},
                                  .mipLevels = 1,
                                  .arrayLayers = 1,
                                  .samples = vk::SampleCountFlagBits::e1,
                                  .tiling = vk::ImageTiling::eOptimal,
                                  .usage = usage,
                                  .sharingMode = vk::SharingMode::eExclusive,
                                  .initialLayout = vk::ImageLayout::eUndefined});
  const auto req = t.image.getMemoryRequirements();
  t.memory = vk::raii::DeviceMemory(
      device, vk::MemoryAllocateInfo{
                  .allocationSize = req.size,
                  .memoryTypeIndex = find_memory(req.memoryTypeBits,
                                                 vk::MemoryPropertyFlagBits::eDeviceLocal, {})});
  t.image.bindMemory(*t.memory, 0);
  t.view = vk::raii::ImageView(
      device, vk::ImageViewCreateInfo{.image = *t.image,
                                      .viewType = vk::ImageViewType::e2D,
                                      .format = format,
                                      .subresourceRange = {aspect, 0, 1, 0, 1}});
  return t;
}

HostBuffer Renderer::Impl::make_host_buffer(vk::DeviceSize size, vk::BufferUsageFlags usage) {
  HostBuffer b;
  b.size = size;
  b.buffer = vk::raii::Buffer(device, vk::BufferCreateInfo{.size = size,
                                                           .usage = usage,
                                                           .sharingMode = vk::SharingMode::eExclusive});
  const auto req = b.buffer.getMemoryRequirements();
  // Cached memory reads fast on the host (read-back); coherent spares the flushes.
  using F = vk::MemoryPropertyFlagBits;
  const std::uint32_t type = find_memory(req.memoryTypeBits,
                                         F::eHostVisible | F::eHostCoherent | F::eHostCached,
                                         F::eHostVisible);
  b.coherent = bool(memory_props.memoryTypes[type].propertyFlags & F::eHostCoherent);
  b.memory = vk::raii::DeviceMemory(
      device, vk::MemoryAllocateInfo{.allocationSize = req.size, .memoryTypeIndex = type});
  b.buffer.bindMemory(*b.memory, 0);
  b.mapped = b.memory.mapMemory(0, VK_WHOLE_SIZE);
  return b;
}

vk::raii::Pipeline Renderer::Impl::make_pipeline(Pass pass) {
  const bool spheres = pass == Pass::sphere_points || pass == Pass::sphere_quads;
  const vk::raii::PipelineLayout& layout = spheres ? sphere_layout : arena_layout;
  const auto vert = pass == Pass::sphere_points ? shaders::sphere_point_vert
                    : pass == Pass::sphere_quads ? shaders::sphere_quad_vert
                                                 : shaders::arena_vert;
  const auto frag = spheres ? shaders::sphere_frag : shaders::arena_frag;
  const vk::PrimitiveTopology topology =
      pass == Pass::sphere_points  ? vk::PrimitiveTopology::ePointList
      : pass == Pass::sphere_quads ? vk::PrimitiveTopology::eTriangleStrip
      : pass == Pass::floor        ? vk::PrimitiveTopology::eTriangleList
                                   : vk::PrimitiveTopology::eLineList;
  const vk::raii::ShaderModule vert_module(
      device, vk::ShaderModuleCreateInfo{.codeSize = vert.size_bytes(), .pCode = vert.data()});
  const vk::raii::ShaderModule frag_module(
      device, vk::ShaderModuleCreateInfo{.codeSize = frag.size_bytes(), .pCode = frag.data()});
  const std::array stages{
      vk::PipelineShaderStageCreateInfo{.stage = vk::ShaderStageFlagBits::eVertex,
                                        .module = *vert_module,
                                        .pName = "main"},
      vk::PipelineShaderStageCreateInfo{.stage = vk::ShaderStageFlagBits::eFragment,
                                        .module = *frag_module,
                                        .pName = "main"}};
  const vk::VertexInputBindingDescription binding{.binding = 0,
                                                  .stride = sizeof(SphereInstance),
                                                  .inputRate = pass == Pass::sphere_points
                                                                   ? vk::VertexInputRate::eVertex
                                                                   : vk::VertexInputRate::eInstance};
  const std::array attributes{
      vk::VertexInputAttributeDescription{.location = 0, .binding = 0,
                                          .format = vk::Format::eR32G32B32A32Sfloat,
                                          .offset = offsetof(SphereInstance, x)},
      vk::VertexInputAttributeDescription{.location = 1, .binding = 0,
                                          .format = vk::Format::eR32Uint,
                                          .offset = offsetof(SphereInstance, color)}};
  const vk::PipelineVertexInputStateCreateInfo vertex_input =
      spheres ? vk::PipelineVertexInputStateCreateInfo{
                    .vertexBindingDescriptionCount = 1,
                    .pVertexBindingDescriptions = &binding,
                    .vertexAttributeDescriptionCount = attributes.size(),
                    .pVertexAttributeDescriptions = attributes.data()}
              : vk::PipelineVertexInputStateCreateInfo{};
  const vk::PipelineInputAssemblyStateCreateInfo input_assembly{.topology = topology};
  const vk::PipelineViewportStateCreateInfo viewport{.viewportCount = 1, .scissorCount = 1};
  const bool is_floor = pass == Pass::floor;
  // Billboards face the eye whatever the y flip did to winding: cull nothing.
  const vk::PipelineRasterizationStateCreateInfo raster{
      .polygonMode = vk::PolygonMode::eFill,
      .cullMode = vk::CullModeFlagBits::eNone,
      .frontFace = vk::FrontFace::eCounterClockwise,
      // The floor is pushed back a hair so the edges drawn on it win the depth test.
      .depthBiasEnable = is_floor ? VK_TRUE : VK_FALSE,
      .depthBiasConstantFactor = is_floor ? 4.f : 0.f,
      .depthBiasSlopeFactor = is_floor ? 1.5f : 0.f,
      .lineWidth = 1.f};
  const vk::PipelineMultisampleStateCreateInfo multisample{
      .rasterizationSamples = vk::SampleCountFlagBits::e1};
  const vk::PipelineDepthStencilStateCreateInfo depth_state{
      .depthTestEnable = VK_TRUE,
      .depthWriteEnable = VK_TRUE,
      .depthCompareOp = vk::CompareOp::eLessOrEqual};
  const vk::PipelineColorBlendAttachmentState blend_attachment{
      .blendEnable = VK_FALSE,
      .colorWriteMask = vk::ColorComponentFlagBits::eR | vk::ColorComponentFlagBits::eG |
                        vk::ColorComponentFlagBits::eB | vk::ColorComponentFlagBits::eA};
  const vk::PipelineColorBlendStateCreateInfo blend{.attachmentCount = 1,
                                                    .pAttachments = &blend_attachment};
  const std::array dynamic_states{vk::DynamicState::eViewport, vk::DynamicState::eScissor};
  const vk::PipelineDynamicStateCreateInfo dynamic{.dynamicStateCount = dynamic_states.size(),
                                                   .pDynamicStates = dynamic_states.data()};
  const vk::Format color_format = vk::Format::eR8G8B8A8Unorm;
  const vk::PipelineRenderingCreateInfo rendering{.colorAttachmentCount = 1,
                                                  .pColorAttachmentFormats = &color_format,
                                                  .depthAttachmentFormat = depth_format};
  const vk::GraphicsPipelineCreateInfo info{.pNext = &rendering,
                                            .stageCount = stages.size(),
                                            .pStages = stages.data(),
                                            .pVertexInputState = &vertex_input,
                                            .pInputAssemblyState = &input_assembly,
                                            .pViewportState = &viewport,
                                            .pRasterizationState = &raster,
                                            .pMultisampleState = &multisample,
                                            .pDepthStencilState = &depth_state,
                                            .pColorBlendState = &blend,
                                            .pDynamicState = &dynamic,
                                            .layout = *layout};
  return vk::raii::Pipeline(device, nullptr, info);
}

bool Renderer::Impl::fits_point(const sim::Body& body) const {
  // The same bounds as sphere_point.vert, on the CPU, with margins (see constants).
  const glm::vec4 c = view * glm::vec4(detail::to_glm(body.position), 1.f);
  const float r = body.radius, w = -c.z;
  if (!(w - r > camera.near_plane * 1.05f) || !(w - r < camera.far_plane)) {
    return false;
  }
  float size_px = 0;
  for (int axis = 0; axis < 2; ++axis) {
    const float cu = c[axis];
    const float t = std::sqrt(cu * cu + w * w - r * r);
    const float den_lo = w * t + cu * r, den_hi = w * t - cu * r;
    if (!(den_lo > 0.01f * w * t) || !(den_hi > 0.01f * w * t)) {
      return false; // the sphere reaches too far sideways for a bounded square
    }
    const float scale = proj[axis][axis];
    const float a = (cu * t - r * w) / den_lo * scale, b = (cu * t + r * w) / den_hi * scale;
    if (!(std::abs(0.5f * (a + b)) < point_centre_limit)) {
      return false;
    }
    const float extent = static_cast<float>(axis == 0 ? settings.width : settings.height);
    size_px = std::max(size_px, std::abs(b - a) * 0.5f * extent + 1.f);
  }
  return size_px <= point_size_margin * max_point_size;
}

void Renderer::Impl::upload(const sim::World& world) {
  const std::size_t n = world.bodies.size();
  const vk::DeviceSize needed = std::max<std::size_t>(n, 1) * sizeof(SphereInstance);
  if (instances.size < needed) {
    // Draws are synchronous, so the old buffer is idle and can go right away.
    const vk::DeviceSize grown = std::max(needed, 2 * instances.size);
    instances = HostBuffer{};
    instances = make_host_buffer(std::max<vk::DeviceSize>(grown, 1024 * sizeof(SphereInstance)),
                                 vk::BufferUsageFlagBits::eVertexBuffer);
  }
  // Points first, in body order; then the quads, in body order.
  auto* out = static_cast<SphereInstance*>(instances.mapped);
  auto sphere = [&](std::size_t i) {
    const sim::Body& b = world.bodies[i];
    return SphereInstance{b.position.x, b.position.y, b.position.z, b.radius,
                          world.infos[i].color};
  };
  quad_bodies.clear();
  std::uint32_t points = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (max_point_size > 0.f && fits_point(world.bodies[i])) {
      out[points++] = sphere(i);
    } else {
      quad_bodies.push_back(i);
    }
  }
  for (std::size_t k = 0; k < quad_bodies.size(); ++k) {
    out[points + k] = sphere(quad_bodies[k]);
  }
  point_count = points;
  quad_count = static_cast<std::uint32_t>(quad_bodies.size());
  if (!instances.coherent) {
    device.flushMappedMemoryRanges(vk::MappedMemoryRange{
        .memory = *instances.memory, .offset = 0, .size = VK_WHOLE_SIZE});
  }
}

void Renderer::Impl::record(const sim::World& world) {
  using S = vk::PipelineStageFlagBits2;
  using A = vk::AccessFlagBits2;
  cmd.reset();
  cmd.begin(vk::CommandBufferBeginInfo{.flags = vk::CommandBufferUsageFlagBits::eOneTimeSubmit});

  // Previous contents are not needed (UNDEFINED); wait for last frame's copy-out.
  const std::array to_attachment{
      vk::ImageMemoryBarrier2{.srcStageMask = S::eTransfer,
                              .srcAccessMask = A::eNone,
                              .dstStageMask = S::eColorAttachmentOutput,
                              .dstAccessMask = A::eColorAttachmentWrite,
                              .oldLayout = vk::ImageLayout::eUndefined,
                              .newLayout = vk::ImageLayout::eColorAttachmentOptimal,
                              .image = *color.image,
                              .subresourceRange = {vk::ImageAspectFlagBits::eColor, 0, 1, 0, 1}},
      vk::ImageMemoryBarrier2{.srcStageMask = S::eLateFragmentTests,
                              .srcAccessMask = A::eDepthStencilAttachmentWrite,
                              .dstStageMask = S::eEarlyFragmentTests | S::eLateFragmentTests,
                              .dstAccessMask = A::eDepthStencilAttachmentWrite |
                                               A::eDepthStencilAttachmentRead,
                              .oldLayout = vk::ImageLayout::eUndefined,
                              .newLayout = vk::ImageLayout::eDepthAttachmentOptimal,
                              .image = *depth.image,
                              .subresourceRange = {vk::ImageAspectFlagBits::eDepth, 0, 1, 0, 1}}};
  cmd.pipelineBarrier2(vk::DependencyInfo{.imageMemoryBarrierCount = to_attachment.size(),
                                          .pImageMemoryBarriers = to_attachment.data()});

  const auto bg = unpack_rgba(settings.background);
  const vk::RenderingAttachmentInfo color_attachment{
      .imageView = *color.view,
      .imageLayout = vk::ImageLayout::eColorAttachmentOptimal,
      .loadOp = vk::AttachmentLoadOp::eClear,
      .storeOp = vk::AttachmentStoreOp::eStore,
      .clearValue = vk::ClearValue{.color = {.float32 = bg}}};
  const vk::RenderingAttachmentInfo depth_attachment{
      .imageView = *depth.view,
      .imageLayout = vk::ImageLayout::eDepthAttachmentOptimal,
      .loadOp = vk::AttachmentLoadOp::eClear,
      .storeOp = vk::AttachmentStoreOp::eDontCare,
      .clearValue = vk::ClearValue{.depthStencil = {1.f, 0}}};
  const vk::Rect2D area{{0, 0}, {settings.width, settings.height}};
  cmd.beginRendering(vk::RenderingInfo{.renderArea = area,
                                       .layerCount = 1,
                                       .colorAttachmentCount = 1,
                                       .pColorAttachments = &color_attachment,
                                       .pDepthAttachment = &depth_attachment});
  cmd.setViewport(0, vk::Viewport{.x = 0.f,
                                  .y = 0.f,
                                  .width = static_cast<float>(settings.width),
                                  .height = static_cast<float>(settings.height),
                                  .minDepth = 0.f,
                                  .maxDepth = 1.f});
  cmd.setScissor(0, area);

  // Arena: floor first, then the edges (which win ties thanks to the floor's bias).
  const glm::vec3 lo = detail::to_glm(world.arena.min), hi = detail::to_glm(world.arena.max);
  const float width = std::max(hi.x - lo.x, hi.z - lo.z);
  const float cell = std::max(1.f, std::round(width / 20.f)); // about 20 cells across
  const auto stages = vk::ShaderStageFlagBits::eVertex | vk::ShaderStageFlagBits::eFragment;
  const auto floor_rgba = unpack_rgba(floor_color), edge_rgba = unpack_rgba(edge_color);
  ArenaPush arena{.view_proj = proj * view,
                  .box_min = glm::vec4(lo, 0.f),
                  .box_max = glm::vec4(hi, 0.f),
                  .color = {floor_rgba[0], floor_rgba[1], floor_rgba[2], 1.f},
                  .params = {0.f, cell, 0.f, 0.f}};
  cmd.bindPipeline(vk::PipelineBindPoint::eGraphics, *floor_pipeline);
  cmd.pushConstants<ArenaPush>(*arena_layout, stages, 0, arena);
  cmd.draw(6, 1, 0, 0);
  arena.color = {edge_rgba[0], edge_rgba[1], edge_rgba[2], 1.f};
  arena.params.x = 1.f;
  cmd.bindPipeline(vk::PipelineBindPoint::eGraphics, *edge_pipeline);
  cmd.pushConstants<ArenaPush>(*arena_layout, stages, 0, arena);
  cmd.draw(24, 1, 0, 0);

  // A pixel centre (x, y) has ndc (2x / W - 1, 2y / H - 1) and lies on the view ray
  // (ndc.x / P00, ndc.y / P11, -1).
  const float w_px = static_cast<float>(settings.width), h_px = static_cast<float>(settings.height);
  const SpherePush push{
      .view = view,
      .proj = {proj[0][0], proj[1][1], proj[2][2], proj[3][2]},
      .viewport = {w_px, h_px, max_point_size, 0.f},
      .ray = {2.f / (w_px * proj[0][0]), 2.f / (h_px * proj[1][1]), -1.f / proj[0][0],
              -1.f / proj[1][1]},
      .light = glm::vec4(glm::normalize(glm::mat3(view) * glm::normalize(light_direction)), 0.f)};
  if (point_count > 0) {
    cmd.bindPipeline(vk::PipelineBindPoint::eGraphics, *point_pipeline);
    cmd.pushConstants<SpherePush>(*sphere_layout, stages, 0, push);
    cmd.bindVertexBuffers(0, *instances.buffer, vk::DeviceSize{0});
    cmd.draw(point_count, 1, 0, 0);
  }
  if (quad_count > 0) {
    cmd.bindPipeline(vk::PipelineBindPoint::eGraphics, *quad_pipeline);
    cmd.pushConstants<SpherePush>(*sphere_layout, stages, 0, push);
    cmd.bindVertexBuffers(0, *instances.buffer,
                          vk::DeviceSize{point_count} * sizeof(SphereInstance));
    cmd.draw(4, quad_count, 0, 0);
  }
  cmd.endRendering();

  const vk::ImageMemoryBarrier2 to_transfer{
      .srcStageMask = S::eColorAttachmentOutput,
      .srcAccessMask = A::eColorAttachmentWrite,
      .dstStageMask = S::eTransfer,
      .dstAccessMask = A::eTransferRead,
      .oldLayout = vk::ImageLayout::eColorAttachmentOptimal,
      .newLayout = vk::ImageLayout::eTransferSrcOptimal,
      .image = *color.image,
      .subresourceRange = {vk::ImageAspectFlagBits::eColor, 0, 1, 0, 1}};
  cmd.pipelineBarrier2(
      vk::DependencyInfo{.imageMemoryBarrierCount = 1, .pImageMemoryBarriers = &to_transfer});
  cmd.copyImageToBuffer(*color.image, vk::ImageLayout::eTransferSrcOptimal, *readback.buffer,
                        vk::BufferImageCopy{.bufferOffset = 0,
                                            .bufferRowLength = 0, // tightly packed rows
                                            .bufferImageHeight = 0,
                                            .imageSubresource = {vk::ImageAspectFlagBits::eColor, 0, 0, 1},
                                            .imageOffset = {0, 0, 0},
                                            .imageExtent = {settings.width, settings.height, 1}});
  const vk::BufferMemoryBarrier2 to_host{.srcStageMask = S::eTransfer,
                                         .srcAccessMask = A::eTransferWrite,
                                         .dstStageMask = S::eHost,
                                         .dstAccessMask = A::eHostRead,
                                         .buffer = *readback.buffer,
                                         .offset = 0,
                                         .size = VK_WHOLE_SIZE};
  cmd.pipelineBarrier2(
      vk::DependencyInfo{.bufferMemoryBarrierCount = 1, .pBufferMemoryBarriers = &to_host});
  cmd.end();
}

Renderer::Renderer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Renderer::Renderer(Renderer&&) noexcept = default;
Renderer& Renderer::operator=(Renderer&&) noexcept = default;
Renderer::~Renderer() = default;

Expected<Renderer> Renderer::create(const Settings& settings) {
  return guard("render: cannot create renderer", [&]() -> Expected<Renderer> {
    // vk::raii::Context loads libvulkan.so.1 and throws when it is missing.
    auto impl = std::make_unique<Impl>();
    impl->init(settings);
    Renderer renderer(std::move(impl));
    // A driver builds what a draw needs at the first one (lavapipe here: 70 ms
    // against 5 ms for the next frames of the demo, on 2 vCPU): pay it now, not
    // during a run's first ticks. One sphere takes the point path, one the quad path.
    sim::World warm_up;
    const sim::Vec3 centre = (warm_up.arena.min + warm_up.arena.max) * 0.5f;
    sim::BodySpec sphere;
    sphere.position = centre;
    for (const float radius : {0.01f, 5.f}) {
      sphere.radius = radius;
      sim::spawn(warm_up, sphere);
    }
    if (auto drawn = renderer.draw(warm_up); !drawn)
      return drawn.error();
    return renderer;
  });
}

Expected<FrameTimes> Renderer::draw(const sim::World& world) {
  return guard("render: draw failed", [&]() -> Expected<FrameTimes> {
    Impl& d = *impl_;
    if (world.bodies.size() != world.infos.size()) {
      return Error{errc::device_failed, "render: world has " + std::to_string(world.bodies.size()) + " bodies but " +
                   std::to_string(world.infos.size()) + " infos"};
    }
    if (world.bodies.size() > std::numeric_limits<std::uint32_t>::max()) {
      return Error{errc::device_failed, "render: too many bodies for one draw"};
    }
    FrameTimes times;
    const auto start = Clock::now();
    const float aspect = static_cast<float>(d.settings.width) / static_cast<float>(d.settings.height);
    if (!d.settings.camera) {
      d.camera = fit_arena(world.arena, aspect);
    }
    d.view = detail::view_matrix(d.camera);
    d.proj = detail::projection_matrix(d.camera, aspect);
    d.upload(world);
    times.upload_ms = ms_since(start);

    const auto render_start = Clock::now();
    d.record(world);
    d.queue.submit(vk::SubmitInfo{.commandBufferCount = 1, .pCommandBuffers = &*d.cmd}, *d.fence);
    check(d.device.waitForFences(*d.fence, VK_TRUE, fence_timeout_ns), "waiting for the frame");
    d.device.resetFences(*d.fence);
    times.render_ms = ms_since(render_start);
    times.point_spheres = d.point_count;
    times.quad_spheres = d.quad_count;

    const auto read_start = Clock::now();
    if (!d.readback.coherent) {
      d.device.invalidateMappedMemoryRanges(vk::MappedMemoryRange{
          .memory = *d.readback.memory, .offset = 0, .size = VK_WHOLE_SIZE});
    }
    d.pixels.resize(static_cast<std::size_t>(d.readback.size));
    std::memcpy(d.pixels.data(), d.readback.mapped, d.pixels.size());
    times.readback_ms = ms_since(read_start);
    times.total_ms = ms_since(start);
    d.drawn = true;
    return times;
  });
}

Expected<WindowInput> Renderer::present() {
  return guard("render: present failed", [&]() -> Expected<WindowInput> {
    Impl& d = *impl_;
    if (!d.window.handle)
      return WindowInput{};
    d.present_frame();
    return d.window.take();
  });
}

WindowInput Renderer::poll_window() {
  return impl_->window.handle ? impl_->window.take() : WindowInput{};
}

bool Renderer::has_window() const { return impl_->window.handle != nullptr; }

std::span<const std::uint8_t> Renderer::pixels() const { return impl_->pixels; }

void Renderer::set_camera(std::optional<Camera> camera) {
  impl_->settings.camera = camera;
  if (camera) {
    impl_->camera = *camera;
  }
}

const Camera& Renderer::camera() const { return impl_->camera; }
std::uint32_t Renderer::width() const { return impl_->settings.width; }
std::uint32_t Renderer::height() const { return impl_->settings.height; }
const std::string& Renderer::device_name() const { return impl_->device_name; }

} // namespace troupe::render
