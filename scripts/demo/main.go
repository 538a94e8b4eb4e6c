// A small Go program for the gotrace demo: a pretend order service that
// allocates at a few recognizable call sites, forever, until it is stopped.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

type Order struct {
	ID       int
	Customer string
	Items    []Item
}

type Item struct {
	SKU      string
	Quantity int
	Price    float64
}

// newOrder allocates the order and its item slice.
func newOrder(id int) *Order {
	items := make([]Item, 0, 4)
	for i := 0; i < 1+id%4; i++ {
		items = append(items, Item{SKU: fmt.Sprintf("sku-%d", i), Quantity: i + 1, Price: 9.99})
	}
	return &Order{ID: id, Customer: "customer-" + fmt.Sprint(id%100), Items: items}
}

// skus lists an order's SKUs, one append at a time: the slice grows as it
// goes (scripts/demo.sh fixes this line, and measures again).
func skus(o *Order) []string {
	var list []string
	for _, item := range o.Items {
		list = append(list, item.SKU)
	}
	return list
}

// encode allocates the JSON bytes of an order.
func encode(o *Order) []byte {
	b, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	return b
}

// report builds a line of text piece by piece.
func report(orders []*Order) string {
	var sb strings.Builder
	for _, o := range orders {
		sb.WriteString(o.Customer)
		sb.WriteByte(',')
	}
	return sb.String()
}

var sink []byte
var sinkSKUs []string
var lines int

func main() {
	fmt.Fprintf(os.Stderr, "demo shop: pid %d, allocating until stopped\n", os.Getpid())
	batch := make([]*Order, 0, 64)
	for id := 0; ; id++ {
		o := newOrder(id)
		sink = encode(o)
		sinkSKUs = skus(o)
		batch = append(batch, o)
		if len(batch) == cap(batch) {
			lines += len(report(batch))
			batch = batch[:0]
			time.Sleep(time.Millisecond)
		}
	}
}
