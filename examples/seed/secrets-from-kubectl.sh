#!/bin/sh
# secrets-from-kubectl.sh NAMESPACE NAME DIR
#
# Copies the Kubernetes secret keys that the KafkaMirrorMaker2 resource NAME
# in NAMESPACE names into DIR, as Kubernetes mounts them and as kmirror's
# --secrets-dir reads them (DIR/<secretName>/<key>, readable by you only),
# and prints the resource on stdout, to run kmirror on it from a laptop:
#
#   examples/seed/secrets-from-kubectl.sh kafka my-mirror-maker-2 ./secrets > kmm2.yaml
#   kmirror preflight -c kmm2.yaml --secrets-dir ./secrets
#
# kmirror (or $KMIRROR) lists the secret keys (validate --json); kubectl,
# with its current context, reads them. The resource's bootstrapServers are
# addresses inside the Kubernetes cluster: point them at addresses this
# machine reaches (an external listener) before running kmirror.
set -eu

if [ $# -ne 3 ]; then
	echo "usage: $0 NAMESPACE NAME DIR" >&2
	exit 2
fi
ns=$1 name=$2 dir=$3
kmirror=${KMIRROR:-kmirror}

umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

kubectl get kafkamirrormaker2 "$name" -n "$ns" -o yaml >"$tmp/kmm2.yaml"
if ! "$kmirror" validate -c "$tmp/kmm2.yaml" --json >"$tmp/validate.json"; then
	cat "$tmp/validate.json" >&2
	echo "$0: kmirror cannot read kafkamirrormaker2 $name" >&2
	exit 1
fi
# validate --json lists them under "secrets", one SECRET/KEY a line.
sed -n '/^  "secrets": \[/,/^  \]/s/^    "\(.*\)",\{0,1\}$/\1/p' "$tmp/validate.json" >"$tmp/secrets"
mkdir -p "$dir"

# fetch SECRET KEY: one key of a secret, decoded, into DIR/SECRET/KEY.
fetch() {
	# jsonpath wants the dots of a key escaped: {.data.tls\.crt}
	path=$(printf '%s' "$2" | sed 's/\./\\./g')
	kubectl get secret "$1" -n "$ns" -o "jsonpath={.data.$path}" </dev/null >"$tmp/value"
	if [ ! -s "$tmp/value" ]; then
		echo "$0: secret $1 in namespace $ns has no key $2" >&2
		exit 1
	fi
	mkdir -p "$dir/$1"
	base64 -d <"$tmp/value" >"$dir/$1/$2"
	echo "wrote $dir/$1/$2" >&2
}

while IFS=/ read -r secret key; do
	case $key in
	*'*'* | *'?'* | *'['*)
		# A trustedCertificates pattern: every key of the secret it matches.
		kubectl get secret "$secret" -n "$ns" -o 'go-template={{range $k, $v := .data}}{{$k}}{{"\n"}}{{end}}' </dev/null >"$tmp/keys"
		matched=
		while read -r k; do
			# shellcheck disable=SC2254 # $key is the pattern
			case $k in
			$key)
				fetch "$secret" "$k"
				matched=1
				;;
			esac
		done <"$tmp/keys"
		if [ -z "$matched" ]; then
			echo "$0: no key of secret $secret in namespace $ns matches $key" >&2
			exit 1
		fi
		;;
	*) fetch "$secret" "$key" ;;
	esac
done <"$tmp/secrets"

cat "$tmp/kmm2.yaml"
