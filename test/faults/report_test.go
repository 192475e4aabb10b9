package faults

import (
	"fmt"
	"strings"
	"time"
)

// row is one line of the table: a scenario at one concurrency.
type row struct {
	scenario scenario
	c        int
	// done is false when the row stopped before its checks (its test failed on the way).
	done bool

	requests, created, unknown, notRecorded int
	// unknownStored is how many of the unknown ones etcd holds.
	unknownStored int
	errors        string
	findings      findings
	recoveries    []recovery
	duration      time.Duration
}

// count fills the request columns.
func (r *row) count(requests []*request) {
	r.requests = len(requests)
	for _, req := range requests {
		switch req.outcome() {
		case recorded:
			r.created++
		case unknown:
			r.unknown++
		case notRecorded:
			r.notRecorded++
		}
	}
	r.errors = errorCounts(requests)
}

// renderTable renders the rows as a markdown table with a legend.
func renderTable(rows []*row, title string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nImageStreamMapping fault suite (%s)\n\n", title)
	b.WriteString("| scenario | c | requests | 201 | unknown | not recorded | errors (raw answers) | I1 | I2 | I3 | I4 | I5 | recovery: readyz / first 201 | time |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		cells := []string{fmt.Sprintf("(%d) %s", r.scenario.id, r.scenario.name), fmt.Sprint(r.c)}
		if !r.done {
			cells = append(cells, "aborted (see the test's log)", "", "", "", "", "", "", "", "", "", "", r.duration.Round(time.Second).String())
		} else {
			cells = append(cells, fmt.Sprint(r.requests), fmt.Sprint(r.created), unknownCell(r.unknown, r.unknownStored), fmt.Sprint(r.notRecorded), r.errors)
			for i := range invariants {
				cells = append(cells, verdict(r.findings.count[i]))
			}
			var recs []string
			for _, rc := range r.recoveries {
				recs = append(recs, fmt.Sprintf("%s: %s / %s", rc.fault, seconds(rc.readyz), seconds(rc.first201)))
			}
			cells = append(cells, strings.Join(recs, "; "), r.duration.Round(time.Second).String())
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	b.WriteString("\nc: concurrent workers, half of them pushing to a stream each, half to one hot stream " +
		"(a new one every " + fmt.Sprint(hotCap) + " pushes). " +
		"requests: logical mapping creates (client-go's retries are one request). 201: recorded. " +
		"unknown: an attempt got \"" + mayHaveBeenRecorded + "\", a transport error or a client cancel (in brackets: how many of them etcd holds). " +
		"not recorded: any other error answer. errors: every raw error answer and failed attempt, by HTTP code; " +
		"reset = HTTP/2 stream reset by the live server instead of an answer, conn = other transport error (connection refused or lost), " +
		"cancel = cancelled by the client, hang = no answer within " + requestBound.String() + ". " +
		"I1–I5: \"held\" or the number of violations:\n")
	for _, inv := range invariants {
		b.WriteString("- " + inv + "\n")
	}
	b.WriteString("recovery: from the fault's end (the process restarted, continued, or the cancels stopped; " +
		"for etcd members killed in a 3-member cluster, from the kill) to /readyz 200 on the servers and to the first 201.\n")
	return b.String()
}

func verdict(n int) string {
	if n == 0 {
		return "held"
	}
	return fmt.Sprint(n)
}

// seconds formats a duration as "1.23s", or "never" for a negative one.
func seconds(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func unknownCell(unknown, stored int) string {
	if unknown == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%d stored)", unknown, stored)
}
