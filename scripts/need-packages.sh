# Sourced by the test scripts: `need_packages CALLER PKG...` installs the
# Debian packages given (the ones found missing) when it runs as root, else
# says what to install and exits 2. Nothing given, nothing done.
need_packages() {
  local caller=$1
  shift
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "$caller: please install $* (Debian: apt-get install $*)" >&2
    exit 2
  fi
}
