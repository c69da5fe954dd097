# The controller's image: the static binary from scripts/build and nothing
# else, so it builds offline (no base image to pull):
#
#   scripts/build && docker build -t longshoreman .
#   docker run -d --name longshoreman -p 3000:3000 -v longshoreman:/data \
#       -e LONGSHOREMAN_TOKEN=... -e REDIS_HOST=10.0.0.2 longshoreman serve --init
#
# --init creates the data file at the first run only. When you recreate the
# container (an upgrade), leave it out (CMD is plain `serve`): a volume that
# is not mounted then stops the start instead of starting an empty cluster.
# Never put LONGSHOREMAN_INIT in ENV. The routers need the routes key:
#   docker exec longshoreman /longshoreman token --routes-key
#
# The data file lives in the /data volume: back it up with
# `longshoreman backup FILE` (GET /backup) or by copying the file while the
# container is stopped.
#
# No CA bundle file is included, but the binary carries Mozilla's roots
# (golang.org/x/crypto/x509roots/fallback), used when the system has none:
# the controller reaches a public ACME CA (LONGSHOREMAN_ACME_EMAIL) and
# Redis over TLS with a public CA as it is. A private ACME CA is trusted
# with LONGSHOREMAN_ACME_CA. The controller reaches the Docker hosts with
# DOCKER_CERT_PATH's own ca.pem, and the hosts' dockerd, not the controller,
# pulls images, so TLS registries need their CA on the hosts. To use a
# bundle of your own instead of the carried roots, copy it in:
#
#   COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
#
# TLS to the Docker hosts: mount the certificates and point at them, e.g.
#   -v /etc/longshoreman/docker:/certs:ro -e DOCKER_TLS_VERIFY=1 -e DOCKER_CERT_PATH=/certs
FROM scratch
COPY longshoreman /longshoreman
ENV LONGSHOREMAN_DB=/data/longshoreman.db \
    PORT=3000
VOLUME /data
EXPOSE 3000
ENTRYPOINT ["/longshoreman"]
CMD ["serve"]
