package main

import (
	"fmt"
	"strings"
	"sync"
)

// The service's state: orders in a bounded store (the oldest go first, so
// that the heap reaches a steady size), rendered orders in a smaller cache,
// per-customer totals, and a fixed catalog to search.
const (
	storeCapacity = 65536
	cacheCapacity = 4096
	catalogSize   = 256
)

type service struct {
	store   *orderStore
	cache   *renderCache
	catalog []product
}

func newService() *service {
	return &service{store: newOrderStore(), cache: newRenderCache(), catalog: newCatalog()}
}

type customerStats struct {
	orders     int
	totalCents int64
	tags       map[string]int
}

type orderStore struct {
	mu        sync.Mutex
	orders    map[string]*order
	order     []string // ids in insertion order, a ring of storeCapacity
	next      int
	customers map[string]*customerStats
}

func newOrderStore() *orderStore {
	return &orderStore{
		orders:    make(map[string]*order),
		order:     make([]string, storeCapacity),
		customers: make(map[string]*customerStats),
	}
}

func (s *orderStore) put(o *order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.order[s.next]; old != "" {
		delete(s.orders, old)
	}
	s.order[s.next] = o.ID
	s.next = (s.next + 1) % storeCapacity
	s.orders[o.ID] = o
	c := s.customers[o.Customer]
	if c == nil {
		c = &customerStats{tags: make(map[string]int)}
		s.customers[o.Customer] = c
	}
	c.orders++
	c.totalCents += o.TotalCents
	for _, t := range o.Tags {
		c.tags[t]++
	}
}

func (s *orderStore) get(id string) (*order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	return o, ok
}

// customer returns a copy of a customer's totals, taken under the lock.
func (s *orderStore) customer(name string) (customerStats, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[name]
	if !ok {
		return customerStats{}, false
	}
	copied := customerStats{orders: c.orders, totalCents: c.totalCents, tags: make(map[string]int, len(c.tags))}
	for t, n := range c.tags {
		copied.tags[t] = n
	}
	return copied, true
}

// renderCache holds rendered responses; when full, it drops the oldest.
type renderCache struct {
	mu      sync.Mutex
	entries map[string][]byte
	order   []string
	next    int
}

func newRenderCache() *renderCache {
	return &renderCache{entries: make(map[string][]byte), order: make([]string, cacheCapacity)}
}

func (c *renderCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	body, ok := c.entries[key]
	return body, ok
}

func (c *renderCache) put(key string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return
	}
	if old := c.order[c.next]; old != "" {
		delete(c.entries, old)
	}
	c.order[c.next] = key
	c.next = (c.next + 1) % cacheCapacity
	c.entries[key] = body
}

type product struct {
	SKU        string
	Name       string
	PriceCents int64
	Tags       []string
	words      []string // the lowercased words of the name and the tags
}

// score counts the query's terms among the product's words; a term that is
// a whole word counts twice.
func (p *product) score(terms []string) int {
	score := 0
	for _, term := range terms {
		for _, w := range p.words {
			if w == term {
				score += 2
			} else if strings.Contains(w, term) {
				score++
			}
		}
	}
	return score
}

// The words of the catalog's names and its tags: deterministic, and shared
// with the load generator's requests.
var (
	catalogAdjectives = []string{"blue", "red", "green", "steel", "wooden", "compact", "large", "quiet", "portable", "classic", "smart", "heavy"}
	catalogNouns      = []string{"widget", "lamp", "chair", "kettle", "speaker", "backpack", "monitor", "drill", "table", "router", "camera", "bottle"}
	catalogTags       = []string{"home", "office", "outdoor", "kitchen", "garden", "travel", "audio", "tools", "sale", "new"}
)

func newCatalog() []product {
	catalog := make([]product, catalogSize)
	for i := range catalog {
		adjective := catalogAdjectives[i%len(catalogAdjectives)]
		noun := catalogNouns[(i/len(catalogAdjectives))%len(catalogNouns)]
		p := product{
			SKU:        fmt.Sprintf("sku-%04d", i),
			Name:       fmt.Sprintf("%s %s %d", adjective, noun, i/(len(catalogAdjectives)*len(catalogNouns))+1),
			PriceCents: int64(500 + (i*7919)%50000),
			Tags:       []string{catalogTags[i%len(catalogTags)], catalogTags[(i+1+(i/len(catalogTags))%(len(catalogTags)-1))%len(catalogTags)]},
		}
		p.words = append(strings.Fields(strings.ToLower(p.Name)), p.Tags...)
		catalog[i] = p
	}
	return catalog
}
