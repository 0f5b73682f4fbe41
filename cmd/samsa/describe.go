package main

import (
	"io"
)

func describe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("describe", stderr)
	mermaid := fs.Bool("mermaid", false, "print a Mermaid flowchart instead of text")
	if err := parse(fs, args); err != nil {
		return err
	}
	top := demoTopology(newDemoTopics(""))
	d, err := top.Describe()
	if err != nil {
		return err
	}
	if *mermaid {
		_, err = io.WriteString(stdout, d.Mermaid())
	} else {
		_, err = io.WriteString(stdout, d.String())
	}
	return err
}
