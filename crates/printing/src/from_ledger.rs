//! The ledger's items and posted documents as printable data: the one place
//! that reads the ledger (through its public read API, never its tables) for
//! the shells — the CLI and the app print the same labels and documents.

use crate::{DocumentData, DocumentKind, DocumentLine, LabelData, LabelIdentifier, LabelKind, Party, PartyRole};
use ledger::{ItemView, Lang, Ledger, LedgerError};
use rust_decimal::Decimal;
use std::str::FromStr;

/// One label from the ledger's item (and lot, serial).
pub fn label_data(
    ledger: &Ledger,
    item: &str,
    lot: Option<&str>,
    serial: Option<&str>,
    lang: Lang,
) -> ledger::Result<LabelData> {
    let view = ledger.item(item)?;
    let lot = lot.map(str::trim).filter(|l| !l.is_empty());
    let serial = serial.map(str::trim).filter(|s| !s.is_empty());
    let expires_on = match lot {
        Some(lot) => ledger.lot_expiry(&view.code, lot)?,
        None => None,
    };
    let identifier = match &view.gtin {
        Some(gtin) => LabelIdentifier::Gtin(gtin.clone()),
        None => LabelIdentifier::Internal(view.code.clone()),
    };
    let kind = match (serial, lot) {
        (Some(_), _) => LabelKind::Unit,
        (None, Some(_)) => LabelKind::Lot,
        (None, None) => LabelKind::Item,
    };
    Ok(LabelData {
        kind,
        identifier: Some(identifier),
        name: if lang == Lang::En && !view.name_en.is_empty() { view.name_en.clone() } else { view.name.clone() },
        specification: Some(view.specification.clone()).filter(|s| !s.is_empty()),
        lot: lot.map(str::to_string),
        expires_on,
        serial: serial.map(str::to_string),
        quantity: None,
        unit: Some(view.unit.clone()).filter(|u| !u.is_empty()),
        location: None,
    })
}

/// A posted document's printable form: header, parties, lines with the
/// items' specification and unit; a stocktake's lines are its frozen variance table.
pub fn document_data(ledger: &Ledger, number: &str, user: &str, lang: Lang) -> ledger::Result<DocumentData> {
    let view = ledger.document(number)?;
    let kind = match view.kind {
        ledger::DocumentKind::Receipt => DocumentKind::Receipt,
        ledger::DocumentKind::Issue => DocumentKind::Issue,
        ledger::DocumentKind::Transfer => DocumentKind::Transfer,
        ledger::DocumentKind::Stocktake => DocumentKind::Stocktake,
        ledger::DocumentKind::Scrap => DocumentKind::Scrap,
        other => {
            return Err(LedgerError::InvalidInput {
                field: "document",
                reason: format!("a {} document has no printed form", other.as_str()),
            })
        }
    };
    let number = view.number.clone().ok_or_else(|| LedgerError::NotADraft(number.to_string()))?;
    let name = |zh: &str, en: &str| if lang == Lang::En && !en.is_empty() { en.to_string() } else { zh.to_string() };
    let location_name = |code: &str| -> String {
        ledger
            .locations()
            .ok()
            .and_then(|all| all.into_iter().find(|l| l.code == code))
            .map(|l| format!("{} {}", l.code, name(&l.name, &l.name_en)))
            .unwrap_or_else(|| code.to_string())
    };
    let mut parties = Vec::new();
    if let Some(supplier) = &view.supplier {
        let found = ledger.suppliers()?.into_iter().find(|s| &s.code == supplier);
        parties.push(Party {
            role: PartyRole::Supplier,
            name: found.map(|s| name(&s.name, &s.name_en)).unwrap_or_else(|| supplier.clone()),
        });
    }
    if let Some(department) = &view.department {
        let found = ledger.departments()?.into_iter().find(|d| &d.code == department);
        parties.push(Party {
            role: PartyRole::Department,
            name: found.map(|d| name(&d.name, &d.name_en)).unwrap_or_else(|| department.clone()),
        });
    }
    match (&view.location, &view.to_location) {
        (Some(from), Some(to)) => {
            parties.push(Party { role: PartyRole::FromLocation, name: location_name(from) });
            parties.push(Party { role: PartyRole::ToLocation, name: location_name(to) });
        }
        (Some(location), None) => parties.push(Party { role: PartyRole::Location, name: location_name(location) }),
        _ => {}
    }
    parties.push(Party {
        role: PartyRole::Operator,
        name: view.posted_by.clone().unwrap_or_else(|| view.created_by.clone()),
    });
    let mut items: std::collections::HashMap<String, ItemView> = std::collections::HashMap::new();
    let mut facts = |code: &str| -> ledger::Result<ItemView> {
        if let Some(found) = items.get(code) {
            return Ok(found.clone());
        }
        let found = ledger.item(code)?;
        items.insert(code.to_string(), found.clone());
        Ok(found)
    };
    let mut lines = Vec::new();
    if view.kind == ledger::DocumentKind::Stocktake && view.lines.is_empty() {
        for row in ledger.stocktake_variance(&view.id, user)?.rows {
            let item = facts(&row.code)?;
            lines.push(DocumentLine {
                item: name(&row.name, &row.name_en),
                code: Some(row.code.clone()),
                specification: Some(row.specification.clone()).filter(|s| !s.is_empty()),
                lot: row.lot.clone(),
                expires_on: None,
                serial: row.serial.clone(),
                unit: Some(row.unit.clone()).filter(|u| !u.is_empty()),
                quantity: row.counted.unwrap_or(0),
                expected_quantity: Some(row.expected),
                unit_cost: row
                    .unit_cost
                    .as_deref()
                    .and_then(|c| Decimal::from_str(c).ok())
                    .or_else(|| item.unit_price.as_deref().and_then(|c| Decimal::from_str(c).ok())),
            });
        }
    } else {
        for line in &view.lines {
            let item = facts(&line.item)?;
            lines.push(DocumentLine {
                item: name(&line.item_name, &line.item_name_en),
                code: Some(line.item.clone()),
                specification: Some(item.specification.clone()).filter(|s| !s.is_empty()),
                lot: line.lot.clone(),
                expires_on: line.expiry,
                serial: line.serial.clone(),
                unit: Some(item.unit.clone()).filter(|u| !u.is_empty()),
                quantity: line.quantity,
                expected_quantity: None,
                unit_cost: line.unit_cost.as_deref().and_then(|c| Decimal::from_str(c).ok()),
            });
        }
    }
    let date = view
        .posted_at
        .as_deref()
        .and_then(|t| t.get(..10))
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| ledger.clock().today());
    Ok(DocumentData {
        kind,
        hospital: ledger.node_info()?.name,
        number,
        date,
        parties,
        lines,
        note: Some(view.note.clone()).filter(|n| !n.is_empty()),
        signatures: Vec::new(),
    })
}
