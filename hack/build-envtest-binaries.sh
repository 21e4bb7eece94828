#!/usr/bin/env bash
# Builds the binaries envtest needs -- kube-apiserver and kubectl
# (Kubernetes $KUBE_VERSION) and etcd ($ETCD_VERSION) -- from the Go module
# proxy into bin/envtest/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION/, and prints
# that folder (use it as KUBEBUILDER_ASSETS). setup-envtest's download site
# is not reachable from here; the module proxy is.
#
# A no-op when the three binaries are already there. Called by `make test`
# (make envtest-assets).
#
# How: a throwaway module requires k8s.io/kubernetes and replaces every
# k8s.io/<staging> module (the "=> ./staging" lines of kubernetes' own
# go.mod, minus sample-cli-plugin and sample-controller, which are not
# published at that version) by its published v0.X.Y twin, then builds
# cmd/kube-apiserver and cmd/kubectl with -trimpath. etcd builds from
# go.etcd.io/etcd/server/v3 in a second throwaway module. The Go build
# and module caches are used as usual, so a rebuild is quick.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
GO=${GO:-go}

root=$(cd "$(dirname "$0")/.." && pwd)
out=${ENVTEST_ASSETS_DIR:-$root/bin/envtest/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION}

have() { [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ]; }
if have; then
	echo "$out"
	exit 0
fi

log() { echo "build-envtest-binaries: $*" >&2; }

# retry runs a command up to three times: a fresh machine downloads a few
# hundred modules, and one dropped connection should not fail `make test`.
retry() {
	local n
	for n in 1 2 3; do
		"$@" && return 0
		[ "$n" -lt 3 ] && log "attempt $n failed: $*; retrying"
	done
	return 1
}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work" "$out"/*.$$' EXIT

# Throwaway modules: no workspace, go.mod/go.sum written as needed, and no
# flags inherited from the caller's environment that could change what
# "-mod" means. VCS stamping needs a repository we do not have.
export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
staging_minor=v0.${KUBE_VERSION#v1.}

start=$(date +%s)
if [ ! -x "$out/kube-apiserver" ] || [ ! -x "$out/kubectl" ]; then
	log "kube-apiserver and kubectl $KUBE_VERSION (a few minutes on a cold cache)"
	gomod=$(retry $GO mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
	[ -f "$gomod" ] || { log "could not download k8s.io/kubernetes@$KUBE_VERSION"; exit 1; }
	mkdir "$work/k8s"
	{
		echo "module wpauthz.local/envtest-kubernetes"
		echo
		echo "go $($GO env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')"
		echo
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		echo
		echo "replace ("
		sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$gomod" |
			grep -v -e '^k8s.io/sample-cli-plugin$' -e '^k8s.io/sample-controller$' |
			while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$staging_minor"; done
		echo ")"
	} >"$work/k8s/go.mod"
	if ! grep -q 'k8s.io/apiserver => ' "$work/k8s/go.mod"; then
		log "found no staging replacements in $gomod"
		exit 1
	fi
	(
		cd "$work/k8s"
		retry $GO mod download k8s.io/kubernetes
		retry $GO build -trimpath -ldflags=-s -o "$out/kube-apiserver.$$" k8s.io/kubernetes/cmd/kube-apiserver
		retry $GO build -trimpath -ldflags=-s -o "$out/kubectl.$$" k8s.io/kubernetes/cmd/kubectl
	)
	# Renames are atomic: a concurrent or interrupted build never leaves a
	# half-written binary under the final name.
	mv "$out/kube-apiserver.$$" "$out/kube-apiserver"
	mv "$out/kubectl.$$" "$out/kubectl"
fi

if [ ! -x "$out/etcd" ]; then
	log "etcd $ETCD_VERSION"
	mkdir "$work/etcd"
	printf 'module wpauthz.local/envtest-etcd\n\ngo %s\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
		"$($GO env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')" "$ETCD_VERSION" >"$work/etcd/go.mod"
	(
		cd "$work/etcd"
		retry $GO build -trimpath -ldflags=-s -o "$out/etcd.$$" go.etcd.io/etcd/server/v3
	)
	mv "$out/etcd.$$" "$out/etcd"
fi

have || { log "binaries missing in $out after the build"; exit 1; }
log "built in $(($(date +%s) - start))s: $out"
echo "$out"
