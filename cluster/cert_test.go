package cluster

import "testing"

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		names  []string
		domain string
		want   bool
	}{
		{[]string{"shop.example.com"}, "shop.example.com", true},
		{[]string{"Shop.Example.com"}, "shop.example.com", true},
		{[]string{"shop.example.com"}, "blog.example.com", false},
		{[]string{"*.example.com"}, "shop.example.com", true},
		{[]string{"*.example.com"}, "a.shop.example.com", false},
		{[]string{"*.example.com"}, "example.com", false},
		{[]string{"*.example.com"}, "*.example.com", true},
		{[]string{"shop.example.com"}, "*.example.com", false},
		{[]string{"*.shop.example.com"}, "*.example.com", false},
		{[]string{"a.example.org", "*.example.com"}, "x.example.com", true},
		{nil, "shop.example.com", false},
	} {
		if got := Covers(c.names, c.domain); got != c.want {
			t.Errorf("Covers(%v, %s) = %v, want %v", c.names, c.domain, got, c.want)
		}
	}
}
