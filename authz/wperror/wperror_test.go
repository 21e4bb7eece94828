package wperror

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestBodiesHaveWordPressShape(t *testing.T) {
	for _, e := range All {
		var got struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Data    struct {
				Status int `json:"status"`
			} `json:"data"`
		}
		if err := json.Unmarshal(e.Body(), &got); err != nil {
			t.Fatalf("%s: %v", e.Code, err)
		}
		if got.Code != e.Code || got.Message != e.Message || got.Data.Status != e.Status || e.Status < 400 {
			t.Errorf("%s: body %s", e.Code, e.Body())
		}
	}
}

// TestEveryCodeIsDocumented keeps docs/errors.md in step with the code.
func TestEveryCodeIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range All {
		row := "| " + strconv.Itoa(e.Status) + " | `" + e.Code + "` |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/errors.md has no row %q", row)
		}
	}
}
