; Keys and lights: constants, subtypes, equality, exists in or, imply, toggling conditional
; effects (both conditions read before the step), nested forall/when/exists in effects.
(define (domain keys-adl)
  (:requirements :adl)
  (:types room item - object key - item)
  (:constants master - key)
  (:predicates (at ?r - room) (in ?i - item ?r - room) (has ?i - item) (lit ?r - room)
               (door ?a ?b - room) (locked ?a ?b - room) (fits ?k - key ?a - room))
  (:action move
    :parameters (?a ?b - room)
    :precondition (and (at ?a) (not (= ?a ?b)) (door ?a ?b)
                       (or (not (locked ?a ?b)) (has master) (exists (?k - key) (and (has ?k) (fits ?k ?b)))))
    :effect (and (not (at ?a)) (at ?b)
                 (forall (?i - item) (when (has ?i) (and (in ?i ?b) (not (in ?i ?a)))))
                 (when (not (lit ?b)) (lit ?b))
                 (when (lit ?b) (not (lit ?b)))))
  (:action grab
    :parameters (?i - item ?r - room)
    :precondition (and (at ?r) (in ?i ?r) (not (has ?i)) (imply (not (lit ?r)) (exists (?k - key) (has ?k))))
    :effect (has ?i))
  (:action drop-all
    :parameters (?r - room)
    :precondition (and (at ?r) (exists (?i - item) (has ?i)))
    :effect (forall (?i - item) (when (has ?i) (not (has ?i)))))
  (:action unlock-all
    :parameters ()
    :precondition (forall (?k - key) (imply (exists (?r - room) (and (at ?r) (in ?k ?r))) (has ?k)))
    :effect (forall (?a ?b - room) (when (and (locked ?a ?b) (exists (?k - key) (and (has ?k) (fits ?k ?b)))) (not (locked ?a ?b))))))
