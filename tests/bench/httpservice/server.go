package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // as in real services: the heap profiler stays on
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The API, the way such services are written: decode a JSON request, do
// some work on an in-memory store, encode a JSON response.
//
//	POST /v1/orders            create an order (the client names it)
//	GET  /v1/orders/ID         an order, rendered once and then cached
//	POST /v1/search            the catalog's products that match a query, best first
//	GET  /v1/customers/NAME    a customer's totals and most used tags

type orderItem struct {
	SKU        string `json:"sku"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

type orderRequest struct {
	ID       string      `json:"id"`
	Customer string      `json:"customer"`
	Items    []orderItem `json:"items"`
	Tags     []string    `json:"tags"`
	Note     string      `json:"note"`
}

type order struct {
	ID         string      `json:"id"`
	Customer   string      `json:"customer"`
	Items      []orderItem `json:"items"`
	Tags       []string    `json:"tags"`
	TotalCents int64       `json:"total_cents"`
	Summary    string      `json:"summary"`
	Created    time.Time   `json:"created"`
}

type searchRequest struct {
	Query         string `json:"query"`
	Limit         int    `json:"limit"`
	MaxPriceCents int64  `json:"max_price_cents"`
}

type searchHit struct {
	SKU        string   `json:"sku"`
	Name       string   `json:"name"`
	PriceCents int64    `json:"price_cents"`
	Tags       []string `json:"tags"`
	Score      int      `json:"score"`
}

type searchResponse struct {
	Query   string      `json:"query"`
	Total   int         `json:"total"`
	Results []searchHit `json:"results"`
}

type tagCount struct {
	Tag   string `json:"tag"`
	Count int    `json:"count"`
}

type customerResponse struct {
	Customer   string     `json:"customer"`
	Orders     int        `json:"orders"`
	TotalCents int64      `json:"total_cents"`
	TopTags    []tagCount `json:"top_tags"`
}

func serve(addr string) {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "httpservice: cannot listen on %s: %v\n", addr, err)
		os.Exit(1)
	}
	s := newService()
	http.HandleFunc("/v1/orders", s.createOrder)
	http.HandleFunc("/v1/orders/", s.getOrder)
	http.HandleFunc("/v1/search", s.search)
	http.HandleFunc("/v1/customers/", s.customer)
	fmt.Printf("pid %d\ngomaxprocs %d\nmemprofilerate %d\nlistening %s\n",
		os.Getpid(), runtime.GOMAXPROCS(0), runtime.MemProfileRate, listener.Addr())
	server := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
	err = server.Serve(listener)
	fmt.Fprintf(os.Stderr, "httpservice: %v\n", err)
	os.Exit(1)
}

func (s *service) createOrder(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		httpError(w, http.StatusMethodNotAllowed, "POST only")
		return
	}
	var req orderRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "bad order: "+err.Error())
		return
	}
	if req.ID == "" || req.Customer == "" || len(req.Items) == 0 {
		httpError(w, http.StatusBadRequest, "an order needs an id, a customer and items")
		return
	}
	o := &order{ID: req.ID, Customer: req.Customer, Items: req.Items, Created: time.Now().UTC()}
	o.Tags = normalizeTags(req.Tags)
	var summary strings.Builder
	for i, item := range req.Items {
		if item.Quantity <= 0 || item.PriceCents < 0 {
			httpError(w, http.StatusBadRequest, "item "+strconv.Itoa(i)+": bad quantity or price")
			return
		}
		o.TotalCents += int64(item.Quantity) * item.PriceCents
		if i > 0 {
			summary.WriteString(", ")
		}
		fmt.Fprintf(&summary, "%dx %s", item.Quantity, item.SKU)
	}
	o.Summary = summary.String()
	s.store.put(o)
	writeJSON(w, http.StatusCreated, o)
}

func (s *service) getOrder(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v1/orders/")
	if body, ok := s.cache.get(id); ok {
		writeBody(w, http.StatusOK, body)
		return
	}
	o, ok := s.store.get(id)
	if !ok {
		httpError(w, http.StatusNotFound, "no order "+strconv.Quote(id))
		return
	}
	body, err := json.Marshal(o)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.cache.put(id, body)
	writeBody(w, http.StatusOK, body)
}

func (s *service) search(w http.ResponseWriter, r *http.Request) {
	var req searchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "bad query: "+err.Error())
		return
	}
	if req.Limit <= 0 || req.Limit > 100 {
		req.Limit = 10
	}
	terms := strings.Fields(strings.ToLower(req.Query))
	var hits []searchHit
	for _, p := range s.catalog {
		if req.MaxPriceCents > 0 && p.PriceCents > req.MaxPriceCents {
			continue
		}
		if score := p.score(terms); score > 0 {
			hits = append(hits, searchHit{SKU: p.SKU, Name: p.Name, PriceCents: p.PriceCents, Tags: p.Tags, Score: score})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].PriceCents < hits[j].PriceCents
	})
	resp := searchResponse{Query: req.Query, Total: len(hits), Results: hits}
	if len(hits) > req.Limit {
		resp.Results = hits[:req.Limit]
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *service) customer(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/v1/customers/")
	stats, ok := s.store.customer(name)
	if !ok {
		httpError(w, http.StatusNotFound, "no customer "+strconv.Quote(name))
		return
	}
	resp := customerResponse{Customer: name, Orders: stats.orders, TotalCents: stats.totalCents}
	for tag, n := range stats.tags {
		resp.TopTags = append(resp.TopTags, tagCount{Tag: tag, Count: n})
	}
	sort.Slice(resp.TopTags, func(i, j int) bool {
		a, b := resp.TopTags[i], resp.TopTags[j]
		return a.Count > b.Count || (a.Count == b.Count && a.Tag < b.Tag)
	})
	if len(resp.TopTags) > 5 {
		resp.TopTags = resp.TopTags[:5]
	}
	writeJSON(w, http.StatusOK, resp)
}

// normalizeTags lowercases, trims and deduplicates tags, in sorted order.
func normalizeTags(tags []string) []string {
	seen := make(map[string]bool, len(tags))
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// writeJSON encodes v whole before writing, so that every response has a
// Content-Length (the load generator reads no chunked bodies).
func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, status, buf.Bytes())
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func httpError(w http.ResponseWriter, status int, message string) {
	body, _ := json.Marshal(map[string]string{"error": message})
	writeBody(w, status, body)
}
