#!/usr/bin/env bash
# Builds the local cortex image without pulling anything: a root filesystem
# assembled from the release binary, the shared libraries it loads and a few
# files from /etc, loaded with `docker import`. The layout matches the
# Dockerfile's distroless runtime (user 65532, /usr/local/bin/cortex, data in
# /var/lib/cortex). See docs/image.md.
#
#   scripts/build-image.sh [--smoke] [--with SRC[=DEST]]... [TAG]
#
#   TAG           image tag; default `local`, giving cortex:local (a TAG
#                 containing `:` is used as the whole reference)
#   --smoke       then run scripts/smoke-image.sh on the image
#   --no-strip    keep the binary's debug info (the release profile's line
#                 tables: ~185 MB instead of ~41 MB; symbols stay either way)
#   --with SRC[=DEST]
#                 also copy the host executable SRC (and the libraries it
#                 loads) into the image, at DEST (default: SRC). The image
#                 has no shell and no other program: a `process` worker can
#                 only run what is added here, e.g.
#                   --with /usr/bin/dash=/bin/sh --with /usr/bin/git
#
# Environment: CORTEX_BIN=PATH uses that binary instead of building one;
# CARGO_TARGET_DIR is honoured as cargo honours it.
set -euo pipefail
# CORTEX_BIN is relative to where the script was called from.
if [ -n "${CORTEX_BIN:-}" ]; then CORTEX_BIN=$(realpath "$CORTEX_BIN"); fi
cd "$(dirname "$0")/.."
umask 022

tag=local
smoke=false
strip=true
extras=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=true ;;
    --no-strip) strip=false ;;
    --with)
      [ $# -ge 2 ] || { echo "--with needs SRC[=DEST]" >&2; exit 64; }
      extras+=("$2")
      shift
      ;;
    --with=*) extras+=("${1#--with=}") ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 64 ;;
    *) tag="$1" ;;
  esac
  shift
done
case "$tag" in
  *:*) image="$tag" ;;
  *) image="cortex:$tag" ;;
esac

for tool in docker ldd tar; do
  command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
done

# The Dockerfile's builder must use the toolchain rust-toolchain.toml pins.
pinned=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
in_dockerfile=$(sed -n 's/^ARG RUST_VERSION=//p' Dockerfile)
if [ "$pinned" != "$in_dockerfile" ]; then
  echo "Dockerfile builds with Rust $in_dockerfile but rust-toolchain.toml pins $pinned: update ARG RUST_VERSION" >&2
  exit 1
fi

if [ -n "${CORTEX_BIN:-}" ]; then
  bin="$CORTEX_BIN"
else
  echo "== cargo build --release --locked -p cortex-daemon"
  cargo build --release --locked -p cortex-daemon --bin cortex
  bin="${CARGO_TARGET_DIR:-target}/release/cortex"
fi
[ -x "$bin" ] || { echo "no executable at $bin" >&2; exit 1; }
version=$("$bin" --version | awk '{print $NF}')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"
# mktemp makes the directory 0700; it becomes the image's `/`.
chmod 0755 "$root"

# The host's merged-/usr links (bin -> usr/bin, ...), so libraries land
# where the host's loader paths say. Always relative: an absolute link would
# point out of the root filesystem while it is assembled.
for link in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$link" ]; then
    target=$(readlink "/$link")
    target="${target#/}"
    case "$target" in
      usr/*/* | *..*) echo "unexpected link /$link -> $target" >&2; exit 1 ;;
      usr/?*) ;;
      *) continue ;;
    esac
    mkdir -p "$root/$target"
    ln -s "$target" "$root/$link"
  fi
done

# Copies host file $1 to $2 inside the image (following symbolic links).
put() {
  mkdir -p "$root$(dirname "$2")"
  cp -L "$1" "$root$2"
}

# Copies what `ldd $1` names (libraries and the dynamic loader), at the paths
# it names. A statically linked program needs none.
put_libraries() {
  local out
  if ! out=$(ldd "$1" 2>&1); then
    case "$out" in
      *"not a dynamic executable"* | *"statically linked"*) return 0 ;;
      *) echo "ldd $1: $out" >&2; exit 1 ;;
    esac
  fi
  if grep -q 'not found' <<<"$out"; then
    echo "ldd $1: a library is missing on this host:" >&2
    echo "$out" >&2
    exit 1
  fi
  # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and the loader,
  # "/lib64/ld-linux-x86-64.so.2 (0x...)" or "/lib64/ld-... => /usr/lib64/ld-..."
  # (both paths kept: the first is the one programs name); linux-vdso has no file.
  awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out" |
    while read -r lib; do
      [ -e "$root$lib" ] || put "$lib" "$lib"
    done
}

put "$bin" /usr/local/bin/cortex
chmod 0755 "$root/usr/local/bin/cortex"
if $strip; then
  if command -v objcopy >/dev/null; then
    objcopy --strip-debug "$root/usr/local/bin/cortex"
  else
    echo "warning: objcopy not found (Debian: binutils); the binary keeps its debug info" >&2
  fi
fi
put_libraries "$bin"

for extra in ${extras[@]+"${extras[@]}"}; do
  src="${extra%%=*}"
  dest="${extra#*=}"
  case "$src" in /*) ;; *) src=$(command -v "$src") || { echo "--with: $extra not found" >&2; exit 1; } ;; esac
  case "$dest" in /*) ;; *) dest="$src" ;; esac
  [ -f "$src" ] && [ -x "$src" ] || { echo "--with: $src is not an executable file" >&2; exit 1; }
  # A script would need its interpreter too; only programs are copied.
  if [ "$(head -c 4 "$src")" != $'\x7fELF' ]; then
    echo "--with: $src is not an ELF program (a script or wrapper?)" >&2
    exit 1
  fi
  echo "== adding $src as $dest"
  put "$src" "$dest"
  put_libraries "$src"
done

# Users and name resolution, as in distroless: root, nobody and nonroot.
mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot" "$root/var/lib/cortex"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
# Docker and Kubernetes mount their own /etc/hosts and /etc/resolv.conf.
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
else
  echo "warning: no /etc/ssl/certs/ca-certificates.crt on this host; the image has no CA bundle" >&2
fi
chmod 1777 "$root/tmp"
chmod 0700 "$root/home/nonroot" "$root/var/lib/cortex"

# Everything owned by root except the runtime user's home and data
# directory; set in the archive, so this needs no root.
tarball="$work/rootfs.tar"
owned=(./home/nonroot ./var/lib/cortex)
tar -C "$root" --numeric-owner --owner=0 --group=0 \
  --exclude=./home/nonroot --exclude=./var/lib/cortex -cf "$tarball" .
tar -C "$root" --numeric-owner --owner=65532 --group=65532 -rf "$tarball" "${owned[@]}"

previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
echo "== docker import $image"
docker import \
  --change 'USER 65532:65532' \
  --change 'WORKDIR /home/nonroot' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV HOME=/home/nonroot' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'EXPOSE 7700 7710' \
  --change "LABEL org.opencontainers.image.title=cortex org.opencontainers.image.version=$version org.opencontainers.image.licenses=Apache-2.0 org.opencontainers.image.description=\"cortex, built locally by scripts/build-image.sh\"" \
  --change 'ENTRYPOINT ["/usr/local/bin/cortex"]' \
  --change 'CMD ["--help"]' \
  --message "scripts/build-image.sh: cortex $version" \
  - "$image" <"$tarball" >/dev/null
# The image this tag named before, if nothing else uses it.
current=$(docker image inspect -f '{{.Id}}' "$image")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi

size=$(docker image inspect -f '{{.Size}}' "$image")
echo "== $image: cortex $version, $(awk -v b="$size" 'BEGIN {printf "%.1f MB", b / 1e6}') ($size bytes)"
(cd "$root" && find . -type f ! -path './etc/*' -printf '%s %p\n' | sort -k2 |
  awk '{printf "   %8.1f MB  %s\n", $1 / 1e6, substr($2, 2)}')

if $smoke; then
  bash scripts/smoke-image.sh "$image"
fi
