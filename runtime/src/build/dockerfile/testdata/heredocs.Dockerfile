FROM debian:bookworm
RUN <<EOF
apt-get update
apt-get install -y curl
EOF
RUN <<-"SCRIPT" bash
	set -eu
	echo "$HOME is not expanded by the builder"
	SCRIPT
COPY <<index.html <<robots.txt /srv/www/
<h1>Hello</h1>
index.html
User-agent: *
robots.txt
RUN cat <<A >/a && cat <<B >/b
first
A
second
B
