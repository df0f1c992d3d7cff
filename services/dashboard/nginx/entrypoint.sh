#!/bin/sh
# Dashboard container entrypoint: write the runtime config the page reads (config.json) and the
# optional proxy to the API server, then run nginx in the foreground.
#
#   DASHBOARD_WS_URL        wsUrl in config.json   ("" = ws(s)://<page host>/ws)
#   DASHBOARD_API_URL       apiUrl in config.json  ("" = the page's own origin)
#   DASHBOARD_CURRENCY      currency in config.json (ISO 4217, default USD)
#   DASHBOARD_API_UPSTREAM  e.g. http://cryptopulse-api:8000: proxy /ws and /api/ there
#                           ("" = no proxy; an Ingress in front routes them instead)
set -eu

state_dir=/tmp/nginx
mkdir -p "$state_dir"

# A JSON string literal: backslashes and double quotes escaped, control characters dropped.
json_string() {
    escaped=$(printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
    printf '"%s"' "$escaped"
}

cat > "$state_dir/config.json" <<JSON
{
  "wsUrl": $(json_string "${DASHBOARD_WS_URL:-}"),
  "apiUrl": $(json_string "${DASHBOARD_API_URL:-}"),
  "currency": $(json_string "${DASHBOARD_CURRENCY:-USD}")
}
JSON

upstream="${DASHBOARD_API_UPSTREAM:-}"
case "$upstream" in
    "") : > "$state_dir/proxy.conf" ;;
    http://*|https://*)
        case "$upstream" in
            *[!A-Za-z0-9:/._-]*)
                echo "dashboard: DASHBOARD_API_UPSTREAM=$upstream has characters other than" \
                    "letters, digits and :/._- ; expected e.g. http://cryptopulse-api:8000" >&2
                exit 64 ;;
        esac
        cat > "$state_dir/proxy.conf" <<CONF
location = /ws {
    proxy_pass $upstream;
    proxy_http_version 1.1;
    proxy_set_header Upgrade \$http_upgrade;
    proxy_set_header Connection \$connection_upgrade;
    proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_read_timeout 1h;
    proxy_send_timeout 1h;
}
location /api/ {
    proxy_pass $upstream;
    proxy_http_version 1.1;
    proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
}
CONF
        ;;
    *)
        echo "dashboard: DASHBOARD_API_UPSTREAM=$upstream is not an http(s) URL;" \
            "expected e.g. http://cryptopulse-api:8000" >&2
        exit 64 ;;
esac

echo "dashboard: config.json $(tr -d '\n ' < "$state_dir/config.json"); api upstream: ${upstream:-none (Ingress routes /ws and /api/)}"
exec nginx -g 'daemon off;'
