// Command buildmodule is what scripts/bench-build.sh builds, with `go build
// -a` and a fresh build cache each time: a main package whose imports pull
// in some 85 packages of the standard library (the runtime, reflect,
// encoding/json, text/template, regexp, compress/gzip and what they import),
// so that one build starts one compile process per package, and finishes
// in well under a minute on two CPUs. (net/http would double the packages
// and the time.) It is built, never run, by the benchmark; run, it renders
// a record as JSON through a template, gzipped, and checks it by a regexp.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"text/template"
)

type record struct {
	Name  string   `json:"name"`
	Sizes []int    `json:"sizes"`
	Tags  []string `json:"tags"`
}

func main() {
	encoded, err := json.Marshal(record{Name: "buildmodule", Sizes: []int{8, 16, 32}, Tags: []string{"bench"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var rendered bytes.Buffer
	template.Must(template.New("record").Parse("record {{.}}\n")).Execute(&rendered, string(encoded))
	var zipped bytes.Buffer
	writer := gzip.NewWriter(&zipped)
	writer.Write(rendered.Bytes())
	writer.Close()
	reader, err := gzip.NewReader(&zipped)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	text, _ := io.ReadAll(reader)
	if !regexp.MustCompile(`^record \{"name":"buildmodule",`).Match(text) {
		fmt.Fprintln(os.Stderr, "unexpected:", string(text))
		os.Exit(1)
	}
	os.Stdout.Write(text)
}
