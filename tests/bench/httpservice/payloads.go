package main

import (
	"fmt"
	"strings"
)

// The load's request bodies, made once: the rest of an order after its id
// and customer (one to four items, tags in mixed case with duplicates, a
// note), and search queries over the catalog's words.
var (
	orderTails    = makeOrderTails(64)
	searchQueries = makeSearchQueries(32)
)

func makeOrderTails(n int) []string {
	tails := make([]string, n)
	for i := range tails {
		var b strings.Builder
		b.WriteString(`","items":[`)
		for item := 0; item <= i%4; item++ {
			if item > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"sku":"sku-%04d","quantity":%d,"price_cents":%d}`,
				(i*31+item*17)%catalogSize, 1+(i+item)%3, 500+(i*7919+item*104729)%50000)
		}
		tag := func(k int) string { return catalogTags[(i+k)%len(catalogTags)] }
		fmt.Fprintf(&b, `],"tags":["%s"," %s","%s","%s"],"note":"leave at the door, order %d of the bench"}`,
			tag(0), strings.ToUpper(tag(1)), tag(0), tag(3), i)
		tails[i] = b.String()
	}
	return tails
}

func makeSearchQueries(n int) []string {
	queries := make([]string, n)
	for i := range queries {
		adjective := catalogAdjectives[i%len(catalogAdjectives)]
		noun := catalogNouns[(i*5)%len(catalogNouns)]
		maxPrice := 0
		if i%2 == 1 {
			maxPrice = 10000 + i*1000
		}
		queries[i] = fmt.Sprintf(`{"query":"%s %s","limit":%d,"max_price_cents":%d}`, adjective, noun, 5+i%10, maxPrice)
	}
	return queries
}
