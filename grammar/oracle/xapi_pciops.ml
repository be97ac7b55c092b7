(* Differential oracle for tests/grammar_xapi_hide.rs: the three steps of xapi's
   ocaml/xapi/pciops.ml that read other-config:pci (split on ',', Scanf each piece and drop
   failures, group ascending with the fold's reversed order inside a group), re-typed from the
   description in docs/reference/xapi-xe.md 1.2 and run with the real OCaml Scanf.
   Input: one value per line. Output: the plug order, "group/dddd:bb:ss.f" joined by ';'. *)
let of_string dev =
  Scanf.sscanf dev "%d/%04x:%02x:%02x.%01x" (fun id a b c d -> (id, (a, b, c, d)))

let parse v =
  let devs =
    List.fold_left
      (fun acc dev -> try of_string dev :: acc with _ -> acc)
      [] (String.split_on_char ',' v)
  in
  let ids = List.sort_uniq compare (List.map fst devs) in
  List.concat (List.map (fun id -> List.filter (fun (x, _) -> x = id) devs) ids)

let () =
  try
    while true do
      let line = input_line stdin in
      parse line
      |> List.map (fun (g, (a, b, c, d)) -> Printf.sprintf "%d/%04x:%02x:%02x.%01x" g a b c d)
      |> String.concat ";" |> print_endline
    done
  with End_of_file -> ()
