# A Node image on the local Debian root filesystem (scripts/build-images.sh), laid out like the
# official one: node and npm under /usr/local, and the `node` user as uid/gid 1000.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && groupadd --gid 1000 node \
    && useradd --uid 1000 --gid node --create-home --shell /bin/sh node \
    && node --version && npm --version
CMD ["node"]
