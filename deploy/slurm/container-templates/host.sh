#!/bin/bash
# The local test cluster has no container runtime: the command runs on the node itself and
# the image is only recorded. For development and CI only, never for a real site.
export STARGATE_CONTAINER_IMAGE={image}
exec /bin/sh -c {command}
