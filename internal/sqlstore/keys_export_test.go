package sqlstore

import (
	"context"
	"strings"

	"credtrack/internal/seal"
)

// SealedValuesForTest opens every sealed value of the schema (every column
// of sealedTables, every organization) and returns them keyed by
// "table.column/row", with the ciphertexts under the same keys.
func (db *DB) SealedValuesForTest(ctx context.Context) (map[string]string, map[string][]byte, error) {
	plain, sealed := map[string]string{}, map[string][]byte{}
	for _, t := range sealedTables {
		cols := make([]string, len(t.cols))
		for i, c := range t.cols {
			cols[i] = c.column
		}
		org := "org_id"
		if t.instance {
			org = "''"
		}
		rows, err := db.write.QueryContext(ctx, "SELECT id, "+org+", "+strings.Join(cols, ", ")+" FROM "+t.table)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var id, orgID string
			vals := make([][]byte, len(cols))
			dest := []any{&id, &orgID}
			for i := range vals {
				dest = append(dest, &vals[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return nil, nil, err
			}
			for i, c := range t.cols {
				if vals[i] == nil {
					continue
				}
				k := t.table + "." + c.column + "/" + id
				pt, err := db.sealer.Open(seal.Field{OrgID: orgID, Table: t.table, Column: c.field, RowID: id}, vals[i])
				if err != nil {
					rows.Close()
					return nil, nil, err
				}
				plain[k], sealed[k] = pt, vals[i]
			}
		}
		if err := rows.Close(); err != nil {
			return nil, nil, err
		}
	}
	return plain, sealed, nil
}

// SealerForTest returns the store's Sealer.
func (db *DB) SealerForTest() *seal.Sealer { return db.sealer }

// SealedColumnsForTest lists "table.column" of every sealed column the
// rotation knows.
func SealedColumnsForTest() []string {
	var out []string
	for _, t := range sealedTables {
		for _, c := range t.cols {
			out = append(out, t.table+"."+c.column)
		}
	}
	return out
}
