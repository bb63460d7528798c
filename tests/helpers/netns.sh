# netns.sh -- a client -- gateway -- MX topology in three network
# namespaces, for the transparent-mode scenario (root only).  Source it
# after tests/lib.sh:
#
#   netns_up PREFIX      create PREFIX-c, PREFIX-g, PREFIX-m and register
#                        netns_down with on_exit
#   netns_down           remove the namespaces (and with them the veths
#                        and the nft table)
#   in_c / in_g / in_m CMD...   run CMD inside one namespace
#
#   client  c0 ---- g0  gateway  g1 ---- m0  MX
#           NS_C_IP4      NS_G_IN4    NS_G_OUT4   NS_MX_IP4
#
# The gateway's MX-facing interface g1 also carries the extra addresses
# NS_G_EXTRA4 and NS_G_EXTRA6 (IPv6 with nodad and preferred_lft 0, so the
# kernel never picks them on its own): a proxy that binds them shows that
# it chose its source address.  An nft "inet" table on the gateway
# redirects TCP port 25 arriving on g0 (IPv4 and IPv6) to :NS_REDIRECT_PORT.
# The gateway does not forward: the MX is reachable from the client only
# through the proxy.

NS_C_IP4=10.77.1.2   NS_C_IP6=fd77:1::2
NS_G_IN4=10.77.1.1   NS_G_IN6=fd77:1::1
NS_G_OUT4=10.77.2.1  NS_G_OUT6=fd77:2::1
NS_G_EXTRA4=10.77.2.10 NS_G_EXTRA6=fd77:2::10
NS_MX_IP4=10.77.2.2  NS_MX_IP6=fd77:2::2
NS_REDIRECT_PORT=10025

in_c() { ip netns exec "$NS_C" "$@"; }
in_g() { ip netns exec "$NS_G" "$@"; }
in_m() { ip netns exec "$NS_M" "$@"; }

netns_down() {
	for _ns in "$NS_C" "$NS_G" "$NS_M"; do
		ip netns del "$_ns" 2>/dev/null
	done
	return 0
}

netns_up() {
	NS_C=$1-c NS_G=$1-g NS_M=$1-m
	on_exit netns_down
	ip netns add "$NS_C" && ip netns add "$NS_G" && ip netns add "$NS_M" ||
		return 1
	ip link add c0 netns "$NS_C" type veth peer name g0 netns "$NS_G" &&
	ip link add g1 netns "$NS_G" type veth peer name m0 netns "$NS_M" ||
		return 1
	for _ns in "$NS_C" "$NS_G" "$NS_M"; do
		ip -n "$_ns" link set lo up
	done
	ip -n "$NS_C" addr add "$NS_C_IP4/24" dev c0 &&
	ip -n "$NS_C" addr add "$NS_C_IP6/64" dev c0 nodad &&
	ip -n "$NS_C" link set c0 up &&
	ip -n "$NS_C" route add default via "$NS_G_IN4" &&
	ip -n "$NS_C" -6 route add default via "$NS_G_IN6" &&
	ip -n "$NS_G" addr add "$NS_G_IN4/24" dev g0 &&
	ip -n "$NS_G" addr add "$NS_G_IN6/64" dev g0 nodad &&
	ip -n "$NS_G" addr add "$NS_G_OUT4/24" dev g1 &&
	ip -n "$NS_G" addr add "$NS_G_OUT6/64" dev g1 nodad &&
	ip -n "$NS_G" addr add "$NS_G_EXTRA4/24" dev g1 &&
	ip -n "$NS_G" addr add "$NS_G_EXTRA6/64" dev g1 nodad preferred_lft 0 &&
	ip -n "$NS_G" link set g0 up &&
	ip -n "$NS_G" link set g1 up &&
	ip -n "$NS_M" addr add "$NS_MX_IP4/24" dev m0 &&
	ip -n "$NS_M" addr add "$NS_MX_IP6/64" dev m0 nodad &&
	ip -n "$NS_M" link set m0 up &&
	ip -n "$NS_M" route add default via "$NS_G_OUT4" &&
	ip -n "$NS_M" -6 route add default via "$NS_G_OUT6" || return 1
	in_g nft -f - <<NFTEOF || return 1
table inet warp_test {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "g0" tcp dport 25 redirect to :$NS_REDIRECT_PORT
	}
}
NFTEOF
}
