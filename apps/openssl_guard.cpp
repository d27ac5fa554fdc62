// A guard around CAF 0.17's use of OpenSSL (caf::openssl, mutual TLS between
// nodes). When a TLS session fails (a peer whose certificate our CA did not
// sign), CAF closes it but leaves OpenSSL's per-thread error queue full, and
// every other TLS link served by the same I/O thread then reads that stale
// error as its own and is dropped too: one refused node would knock a node off
// all its peers. These definitions stand in front of libssl's (the executable's
// symbols come first for libcaf_openssl): they call the real function and, on a
// fatal error, say why in one line and empty the queue, so only the failed
// session ends. OpenSSL then reports it to CAF as a closed socket.

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <dlfcn.h>

#include <iostream>
#include <string>

namespace {

template <class Function>
Function real(const char* name) {
  return reinterpret_cast<Function>(::dlsym(RTLD_NEXT, name));
}

int guarded(SSL* ssl, int ret) {
  if (ret > 0)
    return ret;
  const int error = SSL_get_error(ssl, ret);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_ZERO_RETURN)
    return ret;
  std::string why;
  while (const auto code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    why += (why.empty() ? "" : "; ") + std::string(text);
  }
  if (!why.empty()) {
    const bool handshake = SSL_is_init_finished(ssl) == 0;
    std::cerr << std::string("troupe: ") + (handshake ? "refused a TLS peer during the handshake: " : "TLS link error: ") +
                   why + "\n"
              << std::flush;
  }
  ERR_clear_error();
  return ret;
}

} // namespace

extern "C" {

int SSL_accept(SSL* ssl) {
  static const auto call = real<int (*)(SSL*)>("SSL_accept");
  return guarded(ssl, call(ssl));
}

int SSL_connect(SSL* ssl) {
  static const auto call = real<int (*)(SSL*)>("SSL_connect");
  return guarded(ssl, call(ssl));
}

int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto call = real<int (*)(SSL*, void*, int)>("SSL_read");
  return guarded(ssl, call(ssl, buf, num));
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto call = real<int (*)(SSL*, const void*, int)>("SSL_write");
  return guarded(ssl, call(ssl, buf, num));
}

} // extern "C"

namespace troupe::app {
// Referenced by cli::main so that this file is linked into every executable
// that runs troupe's command line (the definitions above must be there).
void link_openssl_guard() {}
} // namespace troupe::app
