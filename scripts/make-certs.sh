#!/bin/sh
# Makes a demo certificate authority and one certificate per node, for troupe's
# mutual TLS between nodes ([network] tls_ca, [[nodes]] tls_certificate/tls_key).
#
#   scripts/make-certs.sh DIR NODE...
#
# writes DIR/ca.pem (the CA certificate every node trusts), DIR/ca.key (keep it
# private: it signs new nodes), and DIR/NODE.pem + DIR/NODE.key for each NODE.
# Demo quality: RSA 2048, valid 365 days, no passphrase. For production, sign
# node certificates with your own CA and keep the keys on their hosts.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 DIR NODE..." >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "$0: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
dir=$1
shift
mkdir -p "$dir"
if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=troupe demo CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
fi
for node in "$@"; do
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$node" \
    -keyout "$dir/$node.key" -out "$dir/$node.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 365 -out "$dir/$node.pem" 2>/dev/null
  rm -f "$dir/$node.csr"
done
chmod 600 "$dir"/*.key
echo "wrote $dir/ca.pem and certificates for: $*"
