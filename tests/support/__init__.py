"""Test infrastructure shared by the suites: throwaway databases and servers."""
