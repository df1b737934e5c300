#!/usr/bin/env bash
# Download a PINNED list of Debian translation packages and unpack them (no install) so that their gettext
# catalogs are a second source of real multilingual text for xlmr/data/gettext.py (docs/gettext-corpus.md).
#
#   bash scripts/fetch-gettext.sh [DEST]        DEST defaults to cache/gettext-debs/root
#
# - `apt-get download` only (nothing is installed; `apt-get update` runs first only when apt has no
#   package lists). The .deb files are kept in $(dirname DEST)/debs (or $GETTEXT_DEBS_DIR).
# - Pins are name=version (Debian 12 "bookworm", 2025). When a pinned version is gone from the mirror,
#   the current one is fetched with a warning, or the script fails with GETTEXT_STRICT=1.
# - Each .deb is unpacked with `dpkg-deb -x` into a staging dir; only the catalogs (*.mo) and the packages'
#   copyright files are kept; the result replaces DEST in one rename. Re-running with the same .debs
#   does nothing (idempotent: DEST/.stamp records the .deb checksums).
# - DEST/usr/share/locale and DEST/usr/lib/libreoffice/program/resource are locale roots; pass DEST itself
#   to the Python side (expand_locale_roots finds both). DEST/gettext-debs.tsv maps every catalog to its
#   package and version (the manifest's provenance for files dpkg does not know).
set -euo pipefail
cd "$(dirname "$0")/.."

DEST="${1:-cache/gettext-debs/root}"
DEST="${DEST%/}"
DEBS="${GETTEXT_DEBS_DIR:-$(dirname "$DEST")/debs}"
STRICT="${GETTEXT_STRICT:-0}"

# LibreOffice UI translations for the CC-100 languages Debian has (no sw, ur: see vlc-l10n, cinnamon-l10n),
# GTK 3/4, GCC 12, VLC (adds sw) and Cinnamon (adds ur, sw). ~64 MB of .debs.
LO=4:7.4.7-1+deb12u14
PINNED=(
  libreoffice-l10n-af=$LO libreoffice-l10n-am=$LO libreoffice-l10n-ar=$LO libreoffice-l10n-as=$LO libreoffice-l10n-be=$LO
  libreoffice-l10n-bg=$LO libreoffice-l10n-bn=$LO libreoffice-l10n-br=$LO libreoffice-l10n-bs=$LO libreoffice-l10n-ca=$LO
  libreoffice-l10n-cs=$LO libreoffice-l10n-cy=$LO libreoffice-l10n-da=$LO libreoffice-l10n-de=$LO libreoffice-l10n-el=$LO
  libreoffice-l10n-eo=$LO libreoffice-l10n-es=$LO libreoffice-l10n-et=$LO libreoffice-l10n-eu=$LO libreoffice-l10n-fa=$LO
  libreoffice-l10n-fi=$LO libreoffice-l10n-fr=$LO libreoffice-l10n-ga=$LO libreoffice-l10n-gd=$LO libreoffice-l10n-gl=$LO
  libreoffice-l10n-gu=$LO libreoffice-l10n-he=$LO libreoffice-l10n-hi=$LO libreoffice-l10n-hr=$LO libreoffice-l10n-hu=$LO
  libreoffice-l10n-id=$LO libreoffice-l10n-is=$LO libreoffice-l10n-it=$LO libreoffice-l10n-ja=$LO libreoffice-l10n-ka=$LO
  libreoffice-l10n-kk=$LO libreoffice-l10n-km=$LO libreoffice-l10n-kmr=$LO libreoffice-l10n-kn=$LO libreoffice-l10n-ko=$LO
  libreoffice-l10n-lt=$LO libreoffice-l10n-lv=$LO libreoffice-l10n-mk=$LO libreoffice-l10n-ml=$LO libreoffice-l10n-mn=$LO
  libreoffice-l10n-mr=$LO libreoffice-l10n-nb=$LO libreoffice-l10n-ne=$LO libreoffice-l10n-nl=$LO libreoffice-l10n-nn=$LO
  libreoffice-l10n-om=$LO libreoffice-l10n-or=$LO libreoffice-l10n-pa-in=$LO libreoffice-l10n-pl=$LO libreoffice-l10n-pt=$LO
  libreoffice-l10n-pt-br=$LO libreoffice-l10n-ro=$LO libreoffice-l10n-ru=$LO libreoffice-l10n-si=$LO libreoffice-l10n-sk=$LO
  libreoffice-l10n-sl=$LO libreoffice-l10n-sr=$LO libreoffice-l10n-sv=$LO libreoffice-l10n-ta=$LO libreoffice-l10n-te=$LO
  libreoffice-l10n-th=$LO libreoffice-l10n-tr=$LO libreoffice-l10n-ug=$LO libreoffice-l10n-uk=$LO libreoffice-l10n-uz=$LO
  libreoffice-l10n-vi=$LO libreoffice-l10n-xh=$LO libreoffice-l10n-zh-cn=$LO libreoffice-l10n-zh-tw=$LO
  libgtk-3-common=3.24.38-2~deb12u3
  libgtk-4-common=4.8.3+ds-2+deb12u1
  gcc-12-locales=12.2.0-14+deb12u1
  vlc-l10n=3.0.23-0+deb12u1
  cinnamon-l10n=5.6.1-2
)

for tool in apt-get apt-cache dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { echo "fetch-gettext: '$tool' not found (needs a Debian/Ubuntu system)" >&2; exit 1; }
done
start=$(date +%s)
mkdir -p "$DEST" "$DEBS"
DEST_ABS=$(cd "$DEST" && pwd)
DEBS_ABS=$(cd "$DEBS" && pwd)

deb_for() {  # the .deb in $DEBS for name[=version]: the pinned version if present, else the newest
  local name=${1%%=*} ver=${1#*=} f
  f=$(ls -1 "$DEBS_ABS/${name}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
  [ -n "$f" ] || f=$(ls -1t "$DEBS_ABS/${name}_"*.deb 2>/dev/null | head -n1 || true)
  echo "$f"
}

# 1. download what is missing
missing=()
for spec in "${PINNED[@]}"; do
  [ -n "$(deb_for "$spec")" ] || missing+=("$spec")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
    echo "fetch-gettext: apt has no package lists; running apt-get update"
    apt-get update -qq
  fi
  echo "fetch-gettext: downloading ${#missing[@]} package(s) into $DEBS"
  log="$DEBS_ABS/apt-download.log"
  if (cd "$DEBS_ABS" && apt-get download -q "${missing[@]}" >"$log" 2>&1); then
    grep -v "^W: Download is performed unsandboxed" "$log" | tail -n 2 || true
  else
    for spec in "${missing[@]}"; do  # one at a time, to find the pins the mirror no longer has
      [ -z "$(deb_for "$spec")" ] || continue
      if ! (cd "$DEBS_ABS" && apt-get download -q "$spec" >/dev/null 2>&1); then
        if [ "$STRICT" = 1 ]; then
          echo "fetch-gettext: pinned $spec is not available (GETTEXT_STRICT=1)" >&2; exit 1
        fi
        echo "fetch-gettext: WARNING pinned $spec is not available; fetching the current version" >&2
        (cd "$DEBS_ABS" && apt-get download -q "${spec%%=*}" >/dev/null 2>&1) \
          || { echo "fetch-gettext: cannot download ${spec%%=*}" >&2; exit 1; }
      fi
    done
  fi
fi

# 2. unpack (only when the set of .debs changed)
debs=()
for spec in "${PINNED[@]}"; do
  f=$(deb_for "$spec")
  [ -n "$f" ] || { echo "fetch-gettext: no .deb for $spec after download" >&2; exit 1; }
  debs+=("$f")
done
stamp=$(cd "$DEBS_ABS" && sha256sum "${debs[@]##*/}")
if [ -f "$DEST_ABS/.stamp" ] && [ "$(cat "$DEST_ABS/.stamp")" = "$stamp" ]; then
  echo "fetch-gettext: $DEST is up to date"
else
  stage="$DEST_ABS.tmp.$$"
  rm -rf "$stage"; mkdir -p "$stage"
  trap 'rm -rf "$stage"' EXIT
  printf 'path\tpackage\tversion\tdeb\tdeb_sha256\n' > "$stage/gettext-debs.tsv"
  for f in "${debs[@]}"; do
    pkg=$(dpkg-deb -f "$f" Package); ver=$(dpkg-deb -f "$f" Version)
    sha=$(sha256sum "$f" | cut -d' ' -f1)
    dpkg-deb -x "$f" "$stage"
    dpkg-deb -c "$f" | awk '{print $NF}' | sed -n 's#^\./##; /\.mo$/p' \
      | awk -v p="$pkg" -v v="$ver" -v d="${f##*/}" -v s="$sha" 'BEGIN{OFS="\t"} {print $0, p, v, d, s}' \
      >> "$stage/gettext-debs.tsv"
  done
  # keep the catalogs and the copyright files; drop templates, dictionaries, registry files, ...
  find "$stage" -type f ! -name '*.mo' ! -path '*/usr/share/doc/*/copyright' ! -name gettext-debs.tsv -delete
  find "$stage" -depth -type d -empty -delete
  echo "$stamp" > "$stage/.stamp"
  old="$DEST_ABS.old.$$"
  [ ! -e "$DEST_ABS" ] || mv "$DEST_ABS" "$old"
  mv "$stage" "$DEST_ABS"
  rm -rf "$old"
  trap - EXIT
fi

# 3. summary
n_mo=$(find "$DEST_ABS" -name '*.mo' | wc -l)
echo "fetch-gettext: ${#debs[@]} packages, $(du -ch "${debs[@]}" | tail -n1 | cut -f1) of .debs in $DEBS;" \
     "$n_mo catalogs, $(du -sh "$DEST_ABS" | cut -f1) unpacked in $DEST ($(( $(date +%s) - start )) s)"
for sub in usr/share/locale usr/lib/libreoffice/program/resource; do
  [ -d "$DEST_ABS/$sub" ] && echo "  locale root: $DEST/$sub ($(ls "$DEST_ABS/$sub" | wc -l) locale folders)"
done
echo "  use: build_gettext_corpus([\"/usr/share/locale\", \"$DEST\"], codes, out_dir)"
