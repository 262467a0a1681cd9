# Sourced by scripts/test.sh and scripts/serve.sh (not run on its own).

# ensure_debian_command COMMAND PACKAGE WHY: if COMMAND is not on PATH, install the Debian PACKAGE
# that provides it (with sudo unless root), saying WHY first.
ensure_debian_command() {
  local command="$1" package="$2" why="$3" sudo=""
  command -v "$command" >/dev/null 2>&1 && return 0
  echo "installing Debian $package $why"
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null
}
