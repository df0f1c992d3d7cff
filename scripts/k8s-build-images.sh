#!/usr/bin/env bash
# Build the four cryptopulse images with docker and, with --kind NAME, load them into that kind
# cluster (what skaffold's kind profile does for `skaffold dev`; the kind CI workflow uses this).
#
#   scripts/k8s-build-images.sh [--tag TAG] [--kind CLUSTER]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TAG=dev
KIND_CLUSTER=""
while [ $# -gt 0 ]; do
    case "$1" in
        --tag) TAG=$2; shift 2 ;;
        --kind) KIND_CLUSTER=$2; shift 2 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "k8s-build-images: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

# image name, Dockerfile, build context: the same as skaffold.yaml's artifacts.
build() {
    local image=$1 dockerfile=$2 context=$3 started=$SECONDS
    printf '==> %s:%s (%s)\n' "$image" "$TAG" "$dockerfile"
    DOCKER_BUILDKIT=1 docker build --file "$dockerfile" --tag "$image:$TAG" "$context"
    printf '    built in %d s\n' $((SECONDS - started))
    if [ -n "$KIND_CLUSTER" ]; then
        kind load docker-image "$image:$TAG" --name "$KIND_CLUSTER"
    fi
}

build cryptopulse-producer services/producer/Dockerfile .
build cryptopulse-api services/api/Dockerfile .
build cryptopulse-stream services/stream/Dockerfile .
build cryptopulse-dashboard services/dashboard/Dockerfile services/dashboard
