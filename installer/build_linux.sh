#!/usr/bin/env bash
# Builds the Linux station bundle and its .deb: `bash installer/build_linux.sh [--out DIR] [--fast]`.
#
#   DIR/orderhub/                  the PyInstaller onedir bundle (run DIR/orderhub/orderhub …)
#   DIR/orderhub_<ver>_<arch>.deb  installs it to /opt/orderhub, `orderhub` on the PATH, a menu entry
#
# Needs the checkout's .venv (bash installer/dev.sh test --co -q makes it; PyInstaller comes with the
# test extra) and dpkg-deb (every Debian/Ubuntu). Nothing is downloaded beyond PyPI. --fast packs the
# .deb with gzip -1 instead of xz (CI: the same files, a larger archive, a minute less on two cores).
# Why a .deb and not an AppImage: appimagetool and the AppImage runtime come only as binaries from the
# AppImage project, not from PyPI or Debian; dpkg-deb is on every Debian/Ubuntu machine.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

out="$repo/dist"
compression=(-Zxz -z6)
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --fast) compression=(-Zgzip -z1); shift ;;
    *) echo "usage: bash installer/build_linux.sh [--out DIR] [--fast]" >&2; exit 2 ;;
  esac
done
python="${PYTHON:-$repo/.venv/bin/python}"
if ! "$python" -c 'import PyInstaller' 2>/dev/null; then
  echo "PyInstaller is missing: run 'bash installer/dev.sh test --co -q' first (it installs the test extra)." >&2
  exit 1
fi

work="$out/.build"  # beside the bundle, so the package tree can hard-link it
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

started=$SECONDS
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$out" --workpath "$work/pyinstaller" installer/orderhub.spec
bundle="$out/orderhub"
echo "bundle: $bundle ($(du -sm "$bundle" | cut -f1) MB, $((SECONDS - started)) s)"

# The menu entry opens the station; `orderhub station` where this version has it, else the demo.
if "$bundle/orderhub" station --help >/dev/null 2>&1; then station_command=station; else station_command=demo; fi

version="$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
arch="$(dpkg --print-architecture)"
root="$work/deb"
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
  "$root/usr/share/icons/hicolor/256x256/apps"
cp -al "$bundle" "$root/opt/orderhub" 2>/dev/null || cp -a "$bundle" "$root/opt/orderhub"
ln -s /opt/orderhub/orderhub "$root/usr/bin/orderhub"
install -m 644 resources/icons/orderhub.png "$root/usr/share/icons/hicolor/256x256/apps/orderhub.png"
cat > "$root/usr/share/applications/orderhub.desktop" <<EOF
[Desktop Entry]
Type=Application
Version=1.5
Name=OrderHub
Name[zh_CN]=订单中枢
GenericName=Order hub
GenericName[zh_CN]=电商订单处理工作台
Comment=Every order from every channel in one place
Comment[zh_CN]=各平台订单集中处理：客服、仓库、主管工作台
Exec=/opt/orderhub/orderhub $station_command
Icon=orderhub
Terminal=false
Categories=Office;Finance;
Keywords=order;warehouse;订单;仓库;
StartupNotify=true
EOF
# Qt's xcb platform needs these X libraries from the system (PyInstaller bundles what the build machine
# has; these are the ones it reported missing or that every desktop provides and Qt expects).
cat > "$root/DEBIAN/control" <<EOF
Package: orderhub
Version: $version
Architecture: $arch
Maintainer: OrderHub <it@orderhub.invalid>
Section: misc
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Depends: libc6 (>= 2.28), zlib1g, libfontconfig1, libfreetype6, libdbus-1-3, libegl1, libgl1, libxkbcommon0, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0, libxcb-xkb1, libx11-xcb1
Description: OrderHub 订单中枢 — the station (customer service, warehouse, supervisor)
 Every order from every channel (淘宝/天猫, 抖店, 微信小店, 拼多多, 门店POS) in one place,
 routed by rules, every change traceable. Brings its own PostgreSQL for a single station;
 set database_url in ~/.config/OrderHub/config.toml to use the company's shared server.
EOF
deb="$out/orderhub_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compression[@]}" --build "$root" "$deb" >/dev/null
echo "package: $deb ($(du -sm "$deb" | cut -f1) MB, $((SECONDS - started)) s in all)"
